"""Wording rules on the reputation of the sending domain and host and the block lists they
are on, read inside the sender's rules (`exporter.checks.bounce_rules_sender` splices them in
after the sender's domain and before relay denials): a named third-party list is
"blocklist", the receiver's own list or verdict on the host "ip_reputation", a sender
address on a list "policy". Most specific first.
"""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule

C = BounceCategory  # short, for the tables below

# What a block does to its subject, said after it ("<192.0.2.1> is blocked", "... banned").
IS_BLOCKED = (
    r"(?:is |has been |was )?(?:temporarily |permanently )?(?:blocked|banned|black ?listed"
    r"|block ?listed)\b"
)

# In priority order, inside `exporter.checks.bounce_rules_sender.SENDER`.
REPUTATION: tuple[Rule, ...] = (
    (
        C.DOMAIN_REPUTATION,
        (
            r"reputation of (?:the |your |an? )?(?:sending |sender(?:'s)? |from )?domain",
            r"domain(?:'s)? (?:has a )?(?:poor |low |bad )?reputation",
            r"domain\b(?: \S+)? (?:has an? |with an? )(?:poor|low|bad|negative) reputation",
            # The sending domain named as what the receiver blocks ("Domain Blocked - Spam").
            r"(?<!recipient )(?<!destination )domain (?:is |has been |was )?(?:blocked|banned)\b",
            # ... also listed or flagged, by the receiver (a named list is "blocklist")
            (
                r"(?<!recipient )(?<!destination )domain(?: \S+)? (?:is |has been |was )?(?:black"
                r" ?listed|block ?listed|flagged)\b(?! (?:at|by|on|in) )"
            ),
            r"(?:our|internal) domain (?:block|black|deny) ?list",
        ),
    ),
    (
        C.IP_REPUTATION,
        (
            r"ip reputation",
            r"reputation of (?:the |your )?(?:sending )?ip",
            r"banned sending ip",
            r"access denied, banned sender",
            r"traffic not accepted from this ip",
            r"our block ?list",
            r"permanently deferred",
            r"ip source bloqu",
            r"blocked for spamming",
            r"reputation score",
            r"not currently accepting mail from your ip",
            r"blocked for abuse",
            r"(?:is|as|be|being) an open relay",  # a verdict about the sending host
            r"black(?:listed)? ip\b",  # "550 black ip." (a Chinese MTA's terse reply)
            # The sending server judged by how it sends ("Email from your mail server has been
            # sent in patterns that are characteristic of spam"): its reputation, not content.
            r"(?:sent|sending|mailing) (?:in )?patterns?\b[^.;]{0,30}?\bspam",
            # Cloudmark's MTA (Cox, Charter/Spectrum, ...): "cmsmtp <ip> blocked ... AUP#..."
            r"cmsmtp\b[^.;]{0,40}?\bblocked\b",
        ),
    ),
    (
        # Gmail's "unusual rate of unsolicited mail ... has been blocked" is a rate verdict.
        C.RATE_LIMITED,
        (
            r"unusual rate",
            r"receiving (?:mail|e-?mail|messages?) (?:at a rate|too quickly)",
        ),
    ),
    (
        C.BLOCKLIST,
        (
            r"spamhaus",
            r"spamcop",
            r"sorbs",
            r"barracuda ?(?:central|reputation|rbl)",
            r"\bbrbl\b",
            r"uceprotect",
            r"\bpsbl\b",
            r"surbl",
            r"uribl",
            r"abuseat",
            r"\b[cspxd]bl\b",
            r"invaluement",
            r"mailspike",
            r"spamrats",
            r"backscatterer",
            # Further public lists, open-relay lists among them (ORDB, DSBL, NJABL).
            r"\bordb\b",
            r"\bdsbl\b",
            r"\bnjabl\b",
            r"ix\.dnsbl\.manitu",
            r"\b0spam\b",
            r"lashback",
            r"gbudb",
            r"hostkarma",
            r"nordspam",
            r"blocklist\.de\b",
            r"dnsbl",
            r"\brbl\b",
            # "blocked using" (or "deferred", "rejected" using) a list's name or host, not a
            # filter of the receiver's own ("Blocked using spam pattern", "... content filter").
            (
                r"(?:blocked|deferred|rejected|refused|denied) using (?!(?:an? |the |our )?"
                r"(?:spam|content|pattern|filter|rules?|policy|heuristics?)\b)"
            ),
            # ... not the receiver itself ("blacklisted by us": its own list, below)
            r"(?:black|block) ?listed (?:at|by|on|in)(?! (?:us|our|this (?:server|host|system))\b)",
            # A list named by its DNS zone ("in a black list hostkarma.junkemailfilter.com").
            (
                r"(?<!our )(?:black|block|deny) ?list(?:ed)?(?: (?:at|by|on|in|of))?:? (?!www\.)"
                r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"
            ),
            r"listed (?:at|in|on|by) (?!www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b",
            # The zone first, then the word list ("is in the relays.example.org block list").
            (
                r"(?:in|on) (?:the )?(?!www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,} (?:black|block"
                r"|deny|dns ?bl|rbl) ?list"
            ),
            r"mail-abuse\.(?:com|org)",  # Trend Micro's MAPS lists
            (
                r"(?:listed|found) (?:in|on|at) (?:an? |the )?(?:dnsbl|rbl|real-?time|black ?list"
                r"|block ?list|spam ?list)"
            ),
            r"customer block list",
            r"(?:prs|ipcheck)\.proofpoint",
            r"proofpoint (?:dynamic )?reputation",
            r"cloudmark sender intelligence",
            # not one the receiver calls its own ("our internal reputation list", below)
            r"(?<!our )(?<!internal )(?<!local )(?:threat|reputation|rbl|dnsbl) list\b",
            r"(?:found|listed) in (?:the )?(?:\S+ )?(?:ers|dul|xbl|pbl|sbl)\b",
            r"\bers-\w+",  # Trend Micro's Email Reputation Services lists
            r"(?<=[\[#\(])bl\d+\b",  # Yahoo [BL21], Comcast #BL000000
            r"senderscore",
        ),
    ),
    (
        # The receiver blocked the IP itself, naming no list.
        C.IP_REPUTATION,
        (
            # The host's address (masked "#"; an e-mail address is "#@") as the subject of
            # the block: "<192.0.2.1> is blocked", "the sender 192.0.2.1 is banned".
            *(rf"(?<={after} ){IS_BLOCKED}" for after in ("#", "#>", r"#\]", r"#\)", r"#\.>")),
            (
                r"\bip(?: address)?(?: \S+)? (?:has been|is|was) (?:temporarily |permanently"
                r" )?(?:blocked|banned|black ?listed|block ?listed)"
            ),
            # Dynamic or residential address space, which should send through its ISP.
            (
                r"dynamic(?:ally)? (?:assigned |allocated )?(?:ip|address|host|pool|range|client"
                r"|connection|space)"
            ),
            r"dynamically (?:assigned|allocated)",
            r"(?:dynamic|zombie\w*)/\S* ips?\b",
            r"residential (?:ip|address|range|connection|space)",
            r"dial-?up (?:ip|address|range|pool|user)",
            r"bypass\w* (?:\S+ ){0,3}mail (?:relay|server)",
            r"use the smtp (?:server|relay) (?:of|at) your (?:isp|provider|internet|service)",
            (
                r"(?:use|send (?:through|via)|relay (?:through|via)) your (?:isp|provider|internet"
                r" (?:service )?provider)'?s? (?:smtp |mail "
                r"|outgoing )?(?:server|relay|smarthost)"
            ),
            r"not authori[sz]ed to send (?:e-?mail |mail )?directly",
            r"extreme bad ip profile",
            r"no access from mail server",
            r"(?:rejecting |an )?open proxy",
            r"access forbidden by your ip",
            r"looks suspiciously like (?:a )?spammer",
            r"too many (?:spams?|unwanted messages)\b[^.;]{0,60}?\bip\b",
            r"your network is (?:temporar(?:il)?y )?(?:black ?listed|blocked)",
            r"your access ip\b[^.;]{0,40}?\bhas been rejected",
            r"ip/domain reputation",
            # The sending host judged a spam source (not the message's content).
            r"spam(?:mer|ming)? (?:ip|host|source)s?\b",
            (
                r"(?:server|host|ip|network)\b[^.;]{0,30}?\b(?:(?:is|has been|was) sending|has sent"
                r"|sends)\b[^.;]{0,15}?\bspam"
            ),
            r"(?:poor|low|bad) (?:sender|reputation) score",
            # An IP blocked, in German, French, Spanish, Italian, Dutch, Polish and Czech.
            (
                r"\bip(?:-adresse| address| adres)?(?: [^ .;]+){0,2}? (?:gesperrt|blockiert"
                r"|bloqu[ée]e?|bloquead[oa]|bloccat[oa]|geblokkeerd|zablokowan\w*|zablokov[aá]n\w*)"
            ),
            # The host judged a spam source ("Your IP identified as spammer", "host reported
            # as malicious").
            (
                r"(?:identified|listed|flagged|classified|marked|detected|known|reported"
                r"|recogni[sz]ed) as (?:an? )?(?:spammer|spam (?:source|sender)|source of spam)\b"
            ),
            (
                r"(?:ip|host|server)(?: address)? (?:was |is |has been )?(?:identified|listed"
                r"|flagged|classified|marked|detected|known|reported) as (?:an? )?(?:abusive"
                r"|malicious)\b"
            ),
        ),
    ),
    (
        # A link on a list is the content's problem, not the sending host's.
        C.CONTENT,
        (
            r"(?:black|block) ?listed (?:url|link|domain)s? (?:in|within|found)",
            (
                r"(?:url|link|domain)s? (?:in|within) (?:the |your )?(?:message|mail|e-?mail|body)"
                r" (?:is |are )?(?:black|block) ?listed"
            ),
        ),
    ),
    (
        # An address (not the sending host) on the receiver's list: its policy on that sender.
        C.POLICY,
        (
            r"address\b[^.;]{0,20}?\b(?:has been|is|was) (?:black|block|deny) ?listed",
            # "... is on the recipient's block list", not the host's address
            (
                r"(?<!ip )address\b[^.;]{0,20}?\b(?:has been|is|was) (?:on|in) [^.;]{0,20}?"
                r"\b(?:black|block|deny) ?list"
            ),
            # The sender (not its host) on a list: "sender is blacklisted", "host denies the
            # sender", "Black mail address", "registered as spammer (by user's reject list)".
            r"sender (?:has been |is |was )(?:black|block|deny) ?listed",
            r"(?:denies|denied|rejects|refuses) (?:the )?sender\b",
            r"black (?:mail |e-?mail |sender )?address",
            r"(?:user|recipient)'?s? (?:own )?(?:reject|block|black|deny) ?list",
            # An e-mail address (masked "#@") as what is blocked: "<a@b.example> is banned".
            *(rf"(?<={after} ){IS_BLOCKED}" for after in ("#@", "#@>")),
        ),
    ),
    (
        # A list named only as a list is the receiver's own (the corpus's precedence): a
        # third-party list is "blocklist" only when named (the rule above).
        C.IP_REPUTATION,
        (
            r"black ?list",
            r"block ?list",
            r"denylist",
            r"(?:reputation|threat) list\b",
            r"(?<=our )(?:internal )?reject ?list",  # the receiver's own ("our reject list")
        ),
    ),
)
