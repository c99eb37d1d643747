"""The bounce classifier's data: its categories and wording rules (its code tables are in
`exporter.checks.bounce_codes`, its texts for people in `exporter.checks.bounce_text`).

The engine (`exporter.checks.bounce`) says in which order these are read; this module only
holds them, so that a rule change is a data change. Raise ``CLASSIFIER_VERSION`` in the
engine with every change that can move a text to another category.
"""

from __future__ import annotations

from enum import StrEnum


class BounceCategory(StrEnum):
    """A bounce's root cause. The values are the ``category`` label of the bounce metrics
    (and the corpus vocabulary), so they never change."""

    SENDER_DOMAIN_DNS = "sender_domain_dns"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    AUTHENTICATION = "authentication"
    REVERSE_DNS = "reverse_dns"
    IP_REPUTATION = "ip_reputation"
    DOMAIN_REPUTATION = "domain_reputation"
    BLOCKLIST = "blocklist"
    CONTENT = "content"
    RECIPIENT_UNKNOWN = "recipient_unknown"
    RECIPIENT_DISABLED = "recipient_disabled"
    MAILBOX_FULL = "mailbox_full"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    GREYLISTED = "greylisted"
    TLS_REQUIRED = "tls_required"
    RECIPIENT_DOMAIN_DNS = "recipient_domain_dns"
    RELAY_DENIED = "relay_denied"
    POLICY = "policy"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"


C = BounceCategory  # short, for the tables below

FAIL = (
    r"(?:fail(?:s|ed|ure)?|did ?n[o']t pass|not pass|(?:hard|soft) ?fail|invalid|violation"
    r"|error|reject(?:ed|ion)?|suspicious|permerror|temperror|bad|broken|missing|not valid"
    r"|mismatch|does not match|doesn't match|not (?:allowed|permitted|authori[sz]ed))"
)
SPF_FAILED = (
    rf"\b(?:sender policy framework|\bspf\b[^;!?]{{0,60}}?\b{FAIL}|{FAIL}[^;!?]{{0,25}}?\bspf\b"
    r"|per it'?s spf|does not designate|not permitted by (?:the )?(?:domain|sender)"
    r"|(?:inspect|check|fix) your spf"
    # Exim's documented SPF refusal: "<ip> is not allowed to send mail from <domain>"
    r"|(?<=# )is not allowed to send mail from"
    # an RFC 7208 result other than pass, named as the check's result
    r"|spf (?:check |record |validation )?(?:result )?(?:is |was |: ?|= ?)"
    r"(?:none|neutral|softfail)\b)"
)
DKIM_FAILED = (
    rf"\b(?:dkim\b[^;!?]{{0,40}}?\b{FAIL}|{FAIL}[^;!?]{{0,15}}?\bdkim\b"
    r"|body hash did not verify|no (?:passing |valid |acceptable )?dkim signature"
    r"|dkim signature (?:is )?(?:missing|required|not found))"
)
BOTH_FAILED = r"both spf and dkim|neither spf nor dkim|spf and dkim (?:both )?fail"

# A wording rule: a category and its alternatives (regular expressions over the lower-cased,
# flattened text, each starting at a word boundary). The category None marks where the
# engine asks whether SPF or DKIM was named as failed.
Rule = tuple[BounceCategory | None, tuple[str, ...]]

# Rules in priority order: the first that matches anywhere in the text decides.
STRONG: tuple[Rule, ...] = (
    (
        C.SUPPRESSED,
        (
            r"suppression ?list",
            r"blacklisted address:",  # the SES mailbox simulator's suppression-list reply
            r"amazon ses (?:did not send|has suppressed|suppressed)",
        ),
    ),
    (
        C.GREYLISTED,
        (r"gr[ea]y-? ?list",),
    ),
    (
        C.DMARC,
        (
            r"\bdmarc\b",
            r"(?:isn'?t|is not|not) aligned\b",
        ),
    ),
    (
        # SPF and/or DKIM named as failed: the engine reads SPF_FAILED and DKIM_FAILED when
        # one of these (every text those can match contains one) is in the text.
        None,
        (
            r"spf\b",
            r"dkim\b",
            r"sender policy framework",
            r"does not designate",
            r"not permitted by",
            r"body hash",
            r"not allowed to send mail from",
        ),
    ),
    (
        # Recipients restricted to authenticated (internal) senders: an organisation policy.
        C.POLICY,
        (
            r"sender (?:was )?not authenticated (?:by|for)",
            r"not authenticated for (?:group|mailbox|public folder)",
            r"authrequired",
            r"only accepts? (?:mail|messages?|e-?mail) from",
        ),
    ),
    (
        # The server wants SMTP AUTH, i.e. it takes no mail from the Internet for this
        # recipient: the same refusal as a relay denial, not an SPF/DKIM problem.
        C.RELAY_DENIED,
        (
            r"client was not authenticated",
            r"send anonymous mail",
            r"authentication required",
            r"authentication is required",
            r"smtp auth(?:entication)? (?:is )?required",
            r"requires authentication when attempting to send",
        ),
    ),
    (
        C.REVERSE_DNS,
        (
            r"\bptr\b",
            r"reverse[- ](?:dns|lookup)",
            r"\brdns\b",
            r"cannot find your (?:host ?name|reverse)",
            r"cannot resolve your (?:address|host ?name|ip)",
            r"name lookup failed",
            r"forward dns",
            r"fcrdns",
            r"unresolvable relay host",
            r"generic (?:dns|rdns|host ?name)",
            r"mismatches client ip",
            r"unverif[iy]able sending ips?",
        ),
    ),
    (
        C.AUTHENTICATION,
        (
            r"unauthenticated",
            r"must authenticate",
            r"must pass (?:either )?(?:spf|dkim)",
            r"authentication (?:level|requirement|information|fail)",
            r"fails? to pass authentication",
            r"not (?:properly )?authenticated",
            r"authentication checks failed",
        ),
    ),
    (
        C.TLS_REQUIRED,
        (
            r"starttls",
            r"\btls\b",
            r"encryption (?:is )?(?:required|needed)",
            r"requires? encryption",
            r"mta-sts",
            r"\bdane\b",
            r"tlsa",
            r"certificate-(?:expired|host-mismatch)",
            r"untrusted root",
            r"(?:certificate|cert) (?:has |is )?(?:expired|invalid|untrusted)",
            r"strength ciphers",
        ),
    ),
    (
        C.SENDER_DOMAIN_DNS,
        (
            r"domain of sender address",
            (
                r"sender (?:address |e-?mail )?(?:rejected: )?(?:domain )?(?:not found|does not"
                r" exist|doesn't exist|does not resolve|unresolvable)"
            ),
            (
                r"sender(?:'s)? domain (?:not found|does not exist|doesn't exist|does not resolve"
                r"|unknown|must (?:exist|resolve)|is (?:invalid|empty|not resolvable))"
            ),
            (
                r"(?:invalid|unknown|unresolvable|unroutable|non-?existent|bad) sender (?:address"
                r" )?domain"
            ),
            r"unresolvable rfc\.?5321 (?:from )?domain",
            r"sender verify failed",
            # Callouts: the receiver asked the sender's own servers about the address.
            r"(?:postmaster|sender|callout) verification (?:failed|failure|error)",
            r"(?:could not complete|failed) sender verify",
            r"verification failed for",
            r"verify (?:mail ?from|sender) fail",
            r"unroutable sender",
            r"sender'?s? system address",
            r"sender address has null mx",
            r"(?:from:?|sender) domain is invalid",
            r"sender address rejected: (?:dns|name|host) (?:lookup|resolution)? ?fail",
        ),
    ),
    (
        C.DOMAIN_REPUTATION,
        (
            r"reputation of (?:the |your )?(?:sending |sender |from )?domain",
            r"domain(?:'s)? (?:has a )?(?:poor |low |bad )?reputation",
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
            r"dnsbl",
            r"\brbl\b",
            r"blocked using",
            r"(?:black|block) ?listed (?:at|by|on|in)",
            (
                r"(?:listed|found) (?:in|on|at) (?:an? |the )?(?:dnsbl|rbl|real-?time|black ?list"
                r"|block ?list|spam ?list)"
            ),
            r"customer block list",
            r"prs\.proofpoint",
            r"proofpoint (?:dynamic )?reputation",
            r"cloudmark sender intelligence",
            r"(?:threat|reputation|rbl|dnsbl) list\b",
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
        ),
    ),
    (
        # A link on a list is the content's problem, not the sending host's.
        C.CONTENT,
        (r"(?:black|block) ?listed (?:url|link|domain)s? (?:in|within|found)",),
    ),
    (
        # An address (not the sending host) on the receiver's list: its policy on that sender.
        C.POLICY,
        (r"address\b[^.;]{0,20}?\b(?:has been|is|was) (?:black|block|deny) ?listed",),
    ),
    (
        # A list named only as a list is the receiver's own (the corpus's precedence): a
        # third-party list is "blocklist" only when named (the rule above).
        C.IP_REPUTATION,
        (
            r"black ?list",
            r"block ?list",
            r"denylist",
        ),
    ),
    (
        C.RELAY_DENIED,
        (
            (
                r"relay(?:ing)?\b[^.;]{0,40}?\b(?:denied|not permitted|not allowed|prohibited"
                r"|disallowed|refused|rejected)\b"
            ),
            r"(?:not|isn'?t) (?:permitted|allowed|authori[sz]ed|configured) to relay",
            r"unable to relay",
            r"unauthori[sz]ed relay",
            r"as a relay",
            r"we do not relay",
            r"no relaying",
            r"relaying (?:is )?not",
            r"list of allowed rcpthosts?",
            r"insecure mail relay",
            r"not a gateway",
            r"not an open relay",
            r"relaying mail to",
            r"(?:we )?don'?t handle mail for",
            r"tenantattribution",
        ),
    ),
    (
        # The receiver refused the sending host's HELO name: its policy, whatever DNS
        # wording follows ("Helo command rejected: Host not found").
        C.POLICY,
        (
            r"(?:helo|ehlo) (?:command |name |hostname |host )?(?:rejected|refused|invalid|not)",
            r"(?:invalid|bad|illegal|forged) (?:helo|ehlo)",
            r"(?:helo|ehlo)\b[^.;]{0,40}?\b(?:fully[- ]qualified|fqdn)",
            r"(?:ehlo/helo|helo/ehlo)\b",
            r"via (?:ehlo|helo)\b",
        ),
    ),
    (
        # A mail loop at the receiver: no category fits, and no code should guess.
        C.UNKNOWN,
        (
            r"\bloops? (?:back|detected)",
            r"mail loop",
            r"routing loop",
            r"hop count",
            r"too many hops",
            # SMTP protocol errors (Sisimai's "syntaxerror"): about the session, not the mail.
            r"(?:unknown|unrecognized|unimplemented) command",
            r"command (?:not )?(?:recogni[sz]ed|unrecognized)",
            r"bad sequence of commands",
        ),
    ),
    (
        C.RECIPIENT_DOMAIN_DNS,
        (
            r"host or domain name not found",
            (
                r"(?:recipient |destination )?domain (?:name )?(?:not found|does not exist"
                r"|doesn't exist|is not reachable|must exist)"
            ),
            r"no such domain",
            r"(?<!sender )(?<!from )domain \S+ (?:does not|doesn't|did not) exist",
            (
                r"(?:unknown|invalid|non-?existent|unresolvable|unroute?able|bad) (?:recipient "
                r"|destination |mail )?domain"
            ),
            r"unroute?able address",
            r"\b(?:no|null) mx\b",
            r"mx (?:record|lookup|host)s? (?:not found|failed|missing)",
            r"(?:couldn'?t|could not) find (?:any host|a mail exchanger)",
            r"no mail exchanger",
            r"point to non-?existent hosts",
            r"name service error",
            r"\bhost unknown\b",
            r"unknown host",
            r"host not found",
            r"dns query failed",
            r"nonexistentdomain",
            r"dnssec-invalid",
            r"find the recipient domain",
            r"domain is unknown",
            r"(?:host|domain|host/domain) does not accept (?:any )?mail",
            r"does not accept mail \(nullmx\)",
            r"(?:mx|srv) records? indicated no smtp service",
            r"dns (?:lookup|resolution|query) fail\w*",
            r"dns error\b[^.;]{0,80}?\bresponded with code",  # Gmail's DNS failures
            r"\b(?:nxdomain|servfail)\b",
            r"host ?name lookup fail\w*",
            r"name or service not known",
            r"unroute?able mail domain",
            r"mail domain mentioned in (?:the )?e-?mail address is unknown",
            r"no mx (?:record )?found for",
            r"name server: \.: host not found",
            r"dns records for the destination computer could not be found",
            r"could not find a gateway for",
            # The receiving side's DNS said so: Gmail's "DNS type 'mx' lookup of ... responded
            # with code ...", Sendmail's "MX list for ... points back to ...".
            r"dns type \S+ lookup of",
            r"mx list for \S+ points back",
        ),
    ),
    (
        C.RECIPIENT_DISABLED,
        (
            (
                r"(?:account|mailbox|user|address|recipient|inbox)\b[^.;]{0,40}?\b(?:is|has been"
                r"|was) (?:currently |temporarily |permanently |now )?(?:disabled|deactivated"
                r"|inactive|suspended|locked|frozen|closed|terminated)\b"
            ),
            (
                r"(?:disabled|inactive|deactivated|suspended|frozen|archived) (?:e-?mail"
                r" )?(?:account|mailbox|user|recipient|address)"
            ),
            r"(?:recipient|destination)(?:'s)? (?:account|mailbox)\b[^.;]{0,20}?(?:blocked|locked)",
            r"(?:account|mailbox|user) (?:disabled|deactivated|suspended|inactive)\b",
            r"account (?:has been )?(?:disabled|discontinued)",
            r"no longer (?:valid|active|accepts mail|in use)",
            r"temporar(?:il)?y (?:locked|inactive)",
            r"recipient suspend",
            r"(?:account|mailbox|user) (?:is )?currently (?:suspended|disabled|inactive|locked)",
            r"user or domain is disabled",
            r"has been suspended",
            r"boite du destinataire archivee",
            r"rejected: inactive",
            # The account named, then its state, with whatever the reply puts in between
            # ("Account closed due to inactivity", "<user> is now disabled", "account expired").
            r"(?:account|mailbox|user)\b[^.;]{0,40}?\b(?:closed|disabled|not activated)\b",
            r"(?:account|mailbox) (?:has )?expired",
            r"(?:mail )?receiving (?:is )?disabled",
            r"is now (?:disabled|deactivated|suspended)\b",
        ),
    ),
    (
        # Sender-side quotas, which would otherwise read as a full mailbox.
        C.RATE_LIMITED,
        (
            r"(?:queue|submission|sending|send|relay|message|outbound|rate) quota",
            r"quota (?:for|on|of) (?:sending|outgoing|outbound|relay|messages sent)",
        ),
    ),
    (
        C.MAILBOX_FULL,
        (
            r"mailbox (?:is |was )?full",
            r"full mailbox",
            r"mailbox (?:size |storage )?(?:limit )?exceeded",
            r"mailbox (?:would exceed|exceeds)",
            r"over ?quota",
            r"quotaexceeded",  # Exchange STOREDRV.Deliver.Exception:QuotaExceeded
            r"quota (?:exceeded|violation|full)",
            r"exceeded (?:its |the |their |your )?(?:storage|quota|mailbox)",
            r"(?:storage|disk) quota",
            r"(?:out of|insufficient|not enough|no) (?:free )?(?:disk |storage )?space",
            r"mail ?folder is full",
            r"pleine",
            r"storage allocation",
            r"inbox is full",
            r"too much mail data",
            r"space has been used up",
            r"too many messages on the server",
            r"\bis full\b",
            r"no space left on device",
            r"storage (?:space )?(?:is )?(?:full|exceeded|used up)",
            r"not sufficient (?:disk |storage )?space",
            r"over (?:the |its |their |your )?(?:\w+ )?quota",
            r"(?:mailbox|maildir|account) (?:is )?(?:over|at|above) (?:its |the )?quota",
            r"quota (?:has been |was )?exceeded",
            r"mailbox\b[^.;]{0,20}?\bexceeded\b[^.;]{0,20}?\blimit",
            # A quota, exceeded or reached, however the reply words it ("quota limit is
            # exceeded", "exceeded the allowed mailbox quota", "quota usage exceeded").
            r"quota\b[^.;]{0,30}?\b(?:exceed\w*|reached)",
            r"exceed\w*\b[^.;]{0,40}?\bquota",
            (
                r"(?:not|n't) (?:have )?(?:enough|sufficient) (?:free )?(?:disk |storage"
                r" |mailbox )?space"
            ),
            r"space (?:is )?not enough",
            r"exhausted\b[^.;]{0,30}?\b(?:storage|space|quota)",
            r"zu ?viele (?:mails|nachrichten)",
            r"(?:account|mailbox|inbox) storage (?:limit|full)",
        ),
    ),
    (
        C.MESSAGE_TOO_LARGE,
        (
            r"(?:message|mail|e-?mail|attachment|header)s? (?:is |was )?too (?:big|large|long)",
            r"too (?:big|large) for",
            r"(?:message|mail|e-?mail) size",
            r"size (?:limit|exceeds?)",
            r"size of (?:your|the) message",
            (
                r"exceeds? (?:the |our )?(?:(?:maximum|max|fixed|allowed) )*(?:message |email "
                r"|mail )?size"
            ),
            r"message length",
            r"(?:header|line) (?:size|length)",
            r"line too long",
            r"line (?:length )?limit",
            r"attachments?\b[^.;]{0,30}\bexceed",
            r"recipsizelimit",
        ),
    ),
    (
        C.RECIPIENT_UNKNOWN,
        (
            r"user(?:name)? (?:is )?unknown",
            r"unknown (?:user|recipient|mailbox|address|local[- ]?part|e-?mail)",
            r"addressee unknown",
            r"recipient unknown",
            r"user not known",
            r"address (?:is )?unknown",
            r"no such (?:user|recipient|mailbox|address|person|account|local user)",
            (
                r"(?:user|recipient|rcpt|mailbox|address|account|addressee)\b[^.;]{0,40}?\b"
                r"(?:does not|doesn't|did not|do not) exist"
            ),
            r"(?:user|recipient|mailbox|address|account) (?:not found|not exist)",
            r"recipient ?not ?found",
            r"recipnotfound",
            r"smtp address lookup",
            r"invalid (?:recipient|mailbox|address|user|e-?mail|destination)",
            r"(?:recipient|mailbox|address|user) (?:is )?invalid",
            r"marked as invalid",
            r"invalid-recipient",
            r"bad (?:destination )?(?:mailbox|recipient|address|user)",
            r"mailbox (?:is )?(?:unavailable|not available|not present|unallocated|not found)",
            r"unallocated",
            r"not (?:a )?valid (?:recipient|mailbox|user|address|e-?mail|rfc.?5321)",
            r"not a known user",
            r"not our customer",
            r"(?:doesn'?t|does not) have an? (?:\S+ )?account",
            r"no (?:mailbox|account) (?:here|by that name|found|available)",
            (
                r"recipient (?:address )?rejected: (?:access denied|unverified|undeliverable"
                r"|userunknown|not in)"
            ),
            r"not in (?:the )?recipient list",
            r"undeliverable address",
            r"unverified address",
            r"address verification",
            r"has been replaced by",
            r"has moved",
            r"banned recipient",
            r"badrcptto",
            r"not a local address",
            r"no valid recipients",
            r"mailbox (?:name )?(?:is )?not allowed",
            # "address rejected" alone; "... rejected for policy reasons" states its cause
            r"(?<!sender )(?<!ip )(?:address|recipient) rejected(?!:| (?:for|due to|because|by))",
            # The recipient named, then a verdict on its existence, with whatever the reply
            # puts in between ("User (<address>) unknown", "recipients are invalid",
            # "user path no exist", "recipient cannot be verified").
            (
                r"(?:user|recipient|mailbox|addressee|local[- ]?part)s?\b[^.;]{0,40}?\b"
                r"(?:is |are |was )?(?:unknown|not found|no longer exists?|n[o']t exist|no exist"
                r"|invalid|not ok|(?:cannot|could not) be verified|not a member)\b"
            ),
            # Directories: Lotus Domino/Notes, Exchange, LDAP-backed gateways.
            (
                r"not listed in (?:the )?(?:\S+ )?(?:(?:domino|public|global|address) )?"
                r"(?:directory|name (?:&|and) address book)"
            ),
            r"(?:domino|ldap) directory",
            r"name (?:&|and) address book",
            r"invalid final delivery user ?id",
            r"address not present in directory",
            r"no \S+ in name directory",
            (
                r"check (?:if|that|whether) (?:the )?(?:e-?mail |recipient )?address is"
                r" (?:correct|valid)"
            ),
            r"no (?:mailbox|account) by that name",
            r"is not an active address",
            r"not a valid user",
            r"(?:there is )?no one (?:at|by) (?:this|that) (?:address|name)",
            r"destination addresses were unknown",
            r"(?:e-?mail )?address could not be found",
            r"address (?:couldn'?t|could not|cannot) be found",
            r"envelope recipient (?:has been denied|is in my badrcptto)",
            r"(?:invalid|unknown) (?:or unknown )?virtual user",
            r"not in my (?:validrcptto|badrecipientto) list",
            r"utilisateur inconnu",
            r"usuario (?:desconocido|inexistente|no existe)",
            r"(?:benutzer|empf(?:ae|\u00e4)nger)\b[^.;]{0,30}?\bunbekannt",
            r"nessun utente",
            r"no existe (?:dicha persona|ese usuario)",
            r"adresse nicht gefunden",
            r"user missing home directory",
            r"can'?t accept user",
            r"destination server rejected recipients",
            r"no mail ?box available for this user",
        ),
    ),
    (
        # The receiver's own fault (Sisimai's "systemerror"): a deferral without a reason of
        # ours; on a 5xx reply the engine turns it into "unknown". It beats a generic
        # "rejected" ("Recipient address rejected: internal system error").
        C.GREYLISTED,
        (
            r"internal (?:system |server |mail )?error",
            r"(?:local|system|server|mail system|remote server)\b[^.;]{0,20}?\bconfiguration error",
            r"(?:local |temporary )?error in processing",
            r"temporary (?:local|lookup|system|server) (?:problem|failure|error)",
            r"local (?:configuration|delivery) (?:error|problem|failure)",
            r"system config error",
            r"remote server is misconfigured",
            r"queue file write error",
            r"could not load drd",
            r"interrupted system call",
            r"timeout waiting for input",
            r"encountered an error while (?:being )?processed",
            r"internal error reading data",
        ),
    ),
    (
        # RFC 5321/5322 conformance is a receiver policy, even when the reply adds "spam".
        C.POLICY,
        (
            r"rfc ?(?:5322|2822|822)",
            r"rfc.?compliant",
            (
                r"(?:duplicate|multiple|malformed|missing|invalid|non-compliant) (?:\S+"
                r" )?(?:headers?|from:|message-id)"
            ),
            r"from: header",
            r"header (?:is )?(?:missing|invalid|malformed)",
            r"disallowed header",
            r"encoded-word",
            r"(?:blank|empty) from",
            r"from: address",
            r"stray linefeed",
            r"bare (?:lf|line ?feed)",
            r"invalid characters",
            r"malformed",
            r"improperly[- ]formatted",
            r"mime\b[^.;]{0,20}?\b(?:error|reject|invalid)",
            r"invalid (?:mime )?structure",
            r"mismatched with (?:the )?(?:message )?header from",
        ),
    ),
    (
        C.RATE_LIMITED,
        (
            r"rate[ -]?limit",
            (
                r"too many (?:\w+ ){0,2}?(?:connections?|messages?|mails?|e-?mails?|recipients?"
                r"|rcpts?|sessions?|requests?|deliveries|concurrent|simultaneous|sends)\b"
            ),
            r"too (?:fast|quickly|frequently)",
            r"(?:connection|sending|send|message|mail|delivery) frequency",
            r"(?:submission|sending|connection|message) rate\b",
            r"too many \w+ from your (?:ip|host|server|network)",
            r"trop de connexions",
            r"frequency\b[^.;]{0,40}?\b(?:limit|exceed)",
            r"receiving (?:mail|e-?mail|messages?) at a rate",
            r"unusual (?:rate|amount|volume)",
            r"excessive (?:volume|traffic|rate|number|messages|mail)",
            r"\bvolume\b",
            r"(?<!line )(?<!length )(?:limit|quota|threshold)s? (?:exceeded|reached)",
            (
                r"exceed(?:ed|s)? (?:the |their |your |its )?(?:maximum |permitted |allowed"
                r" |configured )?(?:number|limit|rate|quota|threshold)"
            ),
            r"permitted limits",
            r"max(?:imum)? (?:number of )?(?:message|connection|recipient)s? per",
            r"concurrent connections",
            r"connection (?:rate|limit|count)",
            r"throttl",
            r"try again slower",
            r"slow down",
            r"congestion",
            r"per hour",
            r"resources? (?:are |is )?(?:temporarily )?(?:unavailable|not available)",
            r"insufficient (?:system )?(?:resources|storage)",
        ),
    ),
    (
        C.IP_REPUTATION,
        (
            r"complaints",
            (
                r"\bip\b(?: address)?[^.;]{0,40}?\b(?:has been |is |was )?(?:temporarily "
                r"|permanently )?(?:blocked|banned|blacklisted|block ?listed|denied|refused|not"
                r" allowed|rejected)\b"
            ),
            (
                r"(?:blocked|banned|refused|denied)\b[^.;]{0,30}\b(?:your|the|sending|source"
                r"|client) ip\b"
            ),
            r"(?:client|sending|source) host (?:\S+ )?(?:blocked|rejected|refused)",
            r"mail server at \S+ is blocked",
            r"bad sender ip",
            r"bad ip\b",
            r"sender ip address rejected",
            r"access from ip address",
            r"(?:poor|low|bad) (?:e-?mail |sender |sending )?reputation",
            r"dynamic ip",
            r"listed as abusive",
            r"suspicious activity",
            r"not allowed to connect",
            r"not accepting connections",
        ),
    ),
    (
        C.CONTENT,
        (
            r"[a-z]*spam",  # also "antispam", "MCSpamSignature"
            r"virus",
            r"malware",
            r"phish",
            r"unsolicited",
            r"bulk (?:mail|e-?mail)",
            r"\bcontent\b",
            r"attachment",
            r"banned (?:content|file)",
            r"prohibited (?:content|file|attachment|type)",
            r"file type",
            r"executable",
            r"links? within",
            r"urls? (?:in|within)",
            r"spam url",
            r"url domain",
            r"infected",
            r"objectionable",
            r"\bfiltered\b",
            r"\bscored?\b",
            r"\bph\d\d\b",
            r"suspicious (?:content|link|url|message)",
            r"security issue",
            r"ransomware",
            r"bulk[. ]advertising",
            r"junk\b",
        ),
    ),
    (
        C.POLICY,
        (
            r"polic(?:y|ies) (?:violation|rejection)",
            r"violat\w* [^.;]{0,30}polic",
            r"mailpolicy",
            r"anti-?spoofing",
            r"spoof",
            r"blocked senders?",
            r"block-?send-?er",
            r"block-rcpt",
            r"transport rule",
            r"send ?as ?denied",
            r"mail flow rule",
            r"tenant",
            r"allowed-senders",
            r"not in (?:the |an? )?(?:allowed|white|allow|approved)",
            r"whitelist",
            r"allow ?list",
            r"local policy",
            r"security polic",
            r"administrative(?:ly)? prohibit",
            r"network,? not allowed",
            r"gcdp",
            r"closed mailing list",
            r"members-only list",
            r"non-member",
            r"header error",
            r"organi[sz]ational settings",
            r"protocol violation",
        ),
    ),
)


# Refused at the greeting, before any command (Postfix "refused to talk to me"): the
# connecting IP was turned away. The engine reads it first among the generic rules, so any
# cause the reply names beats it, and never for a 4xx reply (a deferral at the greeting).
GREETING_REFUSAL: Rule = (C.IP_REPUTATION, (r"refused to talk to me\b",))

# Generic wording, read after the specific codes and SES's subtype.
WEAK: tuple[Rule, ...] = (
    (
        C.POLICY,
        (
            r"polic(?:y|ies)",
            r"prohibit",
            r"not authori[sz]ed",
            r"access denied",
            r"\bdenied\b",
            r"\bblocked\b",
            r"(?<!temporarily )\brejected\b",
            r"(?<!connection )\brefused\b",
            r"not (?:allowed|accepted|permitted)",
            r"restrict",
            r"moderat",
            r"compliance",
            r"go away",
            r"\bblock\b",
            r"bad helo",
            r"ipv6",
        ),
    ),
    (
        C.EXPIRED,
        (
            r"(?:message|delivery|queue|time|lifetime|envelope)\s*(?:has )?expired",
            r"expired (?:after|in)",
            r"timed? ?out",
            r"unable to deliver in",
            r"retry time",
            r"too long in (?:the )?queue",
            r"in (?:the )?queue too long",
            r"giving up",
            r"gave up",
            r"could not be delivered for",
            (
                r"(?:unable|failed) to deliver\b[^;]{0,80}?\b(?:after|in|for|within)"
                r" (?:\d+|multiple|several|many) (?:\w+ )?(?:days?|hours?|minutes?|attempts|retries"
                r"|tries)"
            ),
            r"(?:delivery|deliver) failed (?:after )?\d+ (?:attempts|times|tries)",
            r"failed (?:after )?\d+ (?:delivery )?attempts",
            r"did not accept our requests? to connect",
            r"retry timeout exceeded",
            r"retry time not reached",
            r"have been failing for a long time",
            r"was not reachable within",
            r"not been collected after",
            r"delivery attempts will continue",
            r"failed to deliver to domain",
            r"message timed out",
            r"server did not respond",
            r"(?:maximum|max) (?:number of )?(?:delivery )?(?:attempts|retries)",
            r"delivery attempts",
            r"connection (?:refused|reset|dropped|died|lost|closed)",
            r"lost connection",
            r"no route to",
            r"unreachable",
            r"not reachable",
            r"failing for a long time",
            r"did not respond",
            r"(?:could not|couldn'?t|unable to|cannot|failed to) connect",
            r"no answer",
            r"establish an smtp connection",
            r"temporarily suspended",
            r"delayed",
            r"cannot assign requested address",
            r"host is down",
        ),
    ),
    (
        C.RATE_LIMITED,
        (
            r"\bbusy\b",
            r"overload",
            r"(?:system|server|cpu|high|heavy|excessive) load\b",
            r"load (?:is )?too high",
        ),
    ),
    (
        C.GREYLISTED,
        (
            r"try (?:again )?later",
            r"try again",
            r"retry (?:later|in)",
            r"temporar",
            r"deferr?",
            r"come back later",
            r"not available",
            r"unavailable",
        ),
    ),
)
