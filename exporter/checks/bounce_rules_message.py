"""Broad wording about the message and its traffic, read after the sender's and the
recipient's rules: its form (RFC 5322), its rate, the sending host named in general words,
its content and the receiver's policy. Then the generic wording (`WEAK`), which the engine
reads only after the specific codes and SES's subtype.
"""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule

C = BounceCategory  # short, for the tables below

# In priority order, after `exporter.checks.bounce_rules_recipient.RECIPIENT`.
MESSAGE: tuple[Rule, ...] = (
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
            # A header missing, wanted valid, or its syntax ("no Message-ID header", "must use
            # a valid From header", "Header From: syntax error").
            (
                r"(?:no|without an?|lacks an?|valid) (?:from:? |date |message-id |to |subject )?"
                r"header\b"
            ),
            r"header (?:\S+ )?syntax",
            r"no message-id\b",
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
            # RFC 5321/5322's line limit (1000 octets with CRLF): the fix is an encoding, not
            # a smaller message.
            r"lines? (?:is |are |was )?too long",
            r"line length",
            r"line (?:length )?limit",
            r"lines? (?:longer than|exceed\w*|over) (?:\d+|the)",
            # An envelope address without its domain (RFC 5321 wants one).
            r"(?:address|sender|recipient)\b[^.;]{0,20}?\bmust (?:contain|include|have) an? domain",
            r"domain (?:name |part )?(?:is )?required\b",
            # RFC 5321's length limits on an address's parts (64 octets for the local part).
            r"(?:local[- ]part|domain name|address|mailbox name)s? (?:is |was )?too long",
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
            # A limit on what one host or session may send, as its maximum or as what the
            # receiver processes from that host.
            (
                r"(?:maximum|max) (?:number of )?(?:recipients|rcpts|messages|mails|connections)"
                r" (?:per|for (?:one|a|each|this)) (?:session|connection|hour|day|minute)"
            ),
            (
                r"(?:maximum|max) (?:number of )?(?:recipients|rcpts|messages|mails|connections)"
                r" (?:exceeded|reached)"
            ),
            (
                r"limit\b[^.;]{0,30}?\b(?:requests|messages|mails|connections) from your"
                r" (?:host|ip|server|address|network)"
            ),
            # A volume in a time, even with a mailbox code ("Mailbox received too much email in
            # a short period of time", 4.2.1).
            r"too much (?:e-?mail|mail|traffic|messages)\b",
            r"(?:in|within) a (?:very )?short (?:period|amount of time|time span|interval)",
            r"(?:connection|sending|send|message|mail|delivery) frequency",
            r"(?:submission|sending|connection|message) rate\b",
            r"too many \w+ from your (?:ip|host|server|network)",
            # A count of mails in a time window ("sent too many mails ... in the last 10
            # minutes"); "tried many times over the past 2 days" is a retry, not a rate.
            (
                r"(?:many|much|number of|more than \d+) (?:\w+ ){0,3}?(?:e-?mails?|mails?|messages?"
                r"|recipients?|rcpts?|connections?|sessions?)\b[^.;]{0,60}?\b(?:in|within|during"
                r"|over) the (?:last|past) (?:\d+ |few )?(?:seconds?|minutes?|mins?|hours?|days?)\b"
            ),
            (
                r"number of (?:rcpts?|recipients|connections|messages|mails)\b[^.;]{0,20}?\b"
                r"(?:is |are )?(?:over|exceed\w*|too (?:high|many|large)|above)\b"
            ),
            r"trop de connexions",
            # Too many connections in German, Spanish, Italian, Dutch, Polish, Portuguese.
            (
                r"(?:zu viele|demasiad[oa]s|tropp[ei]|te veel|zbyt wiele|muit[oa]s|trop de"
                r"|p[rř][ií]li[sš] mnoho) (?:verbindungen|conexiones|connessioni|verbindingen"
                r"|po[lł][aą]cze[nń]\w*|conex(?:õ|o)es|p[rř]ipojen[ií]|mensajes|messages|mensagens"
                r"|messaggi|berichten|wiadomo[sś]ci|zpr[aá]v)\b"
            ),
            r"frequency\b[^.;]{0,40}?\b(?:limit|exceed)",
            r"receiving (?:mail|e-?mail|messages?) at a rate",
            r"unusual (?:rate|amount|volume)",
            r"excessive (?:volume|traffic|rate|number|messages|mail)",
            r"\bvolume\b",
            # not a retry limit: the sending side's give-up (WEAK's expiry)
            r"(?<!line )(?<!length )(?<!retry )(?:limit|quota|threshold)s? (?:exceeded|reached)",
            (
                r"reached (?:the |your |its |their )?(?:hourly|daily|per-hour|per-day|sending)"
                r" (?:message |sending |connection )?(?:limit|quota|rate)"
            ),
            (
                r"exceed(?:ed|s)? (?:the |their |your |its )?(?:maximum |permitted |allowed"
                r" |configured |sending |daily |hourly |connection |message |recipient )?(?:number"
                r"|limit|rate|quota"
                r"|threshold)"
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
                r" allowed|rejected|filtered|not trusted|untrusted)\b"
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
            (
                r"connections? from your (?:ip|network|host|server)\b[^.;]{0,20}?\b(?:not accepted"
                r"|refused|rejected|blocked|denied|not allowed)"
            ),
        ),
    ),
    (
        C.CONTENT,
        (
            r"[a-z]*spam",  # also "antispam", "MCSpamSignature"
            r"virus",
            r"malware",
            r"[a-z]*phish",  # also "spearphish"
            r"threats? (?:detected|found)",
            r"scanner\b",
            r"unsolicited",
            r"bulk (?:mail|e-?mail)",
            r"\bcontent\b",
            r"(?:contenido|conte[uú]do|contenu|inhalt|contenuto|inhoud)\b",
            r"attachment",
            r"banned (?:content|file)",
            r"prohibited (?:content|file|attachment|type)",
            r"file (?:type|extension)",
            # A file the filter will not take, however named ("forbidden file extension").
            (
                r"(?:banned|forbidden|blocked|prohibited|disallowed|dangerous) (?:\w+ )?"
                r"(?:file|extension)"
            ),
            r"executable",
            (
                r"(?:prohibited|forbidden|banned|blocked|objectionable|offensive) (?:words?"
                r"|phrases?|terms?|language|keywords?)\b"
            ),
            r"links? within",
            (
                r"contains? (?:an? |one or more )?(?:suspicious |malicious |blocked |prohibited "
                r"|dangerous |harmful |unsafe )?"
                r"(?:links?|urls?|hyperlinks?)\b"
            ),
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
            r"bayes(?:ian)?\b",
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
            r"not (?:in|on) (?:the |an? )?(?:allowed|white|allow|approved)",
            r"whitelist",
            r"allow ?list",
            r"local policy",
            r"security polic",
            r"administrative(?:ly)? prohibit",
            r"network,? not allowed",
            r"gcdp",
            r"closed mailing list",
            r"members-only list",
            r"only (?:members|subscribers) (?:can|may|are allowed to) (?:post|send|write)",
            r"non-member",
            r"header error",
            r"organi[sz]ational settings",
            r"protocol violation",
            # The sender address refused as not allowed to send from here: qmail's
            # badmailfrom list, a provider's unverified sender identity, a missing right.
            r"badmailfrom",
            r"not (?:match )?an? verified (?:sender|identity|address|domain)",
            r"(?:address|identit(?:y|ies)|sender)\b[^.;]{0,20}?\b(?:is |are )?not verified",
            r"(?:do not|don'?t|does not|doesn'?t) have (?:the )?(?:permission|right) to send",
            # The sender refused for who it is, not for a check it failed.
            (
                r"(?:fake|faked|forged|fraudulent|spoofed) (?:sender|from|mail ?from|envelope"
                r"|return[- ]path)"
            ),
            (
                r"(?:sender|from|envelope|return[- ]path)(?: address)? (?:is |was |appears "
                r"|seems )?(?:to be )?(?:fake|faked|forged|fraudulent|spoofed)\b"
            ),
            (
                r"null (?:senders?|reverse[- ]paths?|return[- ]paths?)\b[^.;]{0,20}?\b(?:denied"
                r"|refused|rejected|not (?:allowed|accepted))"
            ),
            r"not owned by (?:the |this )?(?:authenticated )?(?:user|account|login)",
            # The sender refused, in German, French, Spanish, Portuguese, Italian, Dutch,
            # Polish and Czech.
            (
                r"(?:absender|exp[ée]diteur|remitente|remetente|mittente|afzender|nadawc\w*"
                r"|odes[ií]latel\w*)\b[^.;]{0,30}?\b(?:abgelehnt|abgewiesen|gesperrt|blockiert"
                r"|refus[ée]|rejet[ée]|bloqu[ée]|rechazad[oa]|bloquead[oa]|recusad[oa]"
                r"|rifiutat[oa]|respint[oa]|bloccat[oa]|geweigerd|geblokkeerd|odrzucon\w*"
                r"|zablokowan\w*|odm[ií]tnut\w*)"
            ),
            # The recipient refuses this sender ("does not accept mail from you").
            (
                r"(?:does not|doesn'?t|will not|won'?t) accept (?:e-?mail|mail|messages?) from"
                r" (?:you\b|this sender|the sender|your (?:address|e-?mail address))"
            ),
            # A verdict on the sender address itself ("illegal sender", "forbidden sender").
            (
                r"(?:illegal|forbidden|prohibited|disallowed|unacceptable|unwanted)"
                r" (?:envelope )?sender"
            ),
        ),
    ),
)


# Refused at the greeting, before any command (Postfix "refused to talk to me"): the
# connecting IP was turned away. The engine reads it first among the generic rules, so any
# cause the reply names beats it, and never for a 4xx reply (a deferral at the greeting).
GREETING_REFUSAL: Rule = (C.IP_REPUTATION, (r"refused to talk to me\b",))

# The sending side gave up after retries: with no other cause named, its deferrals' lack of a
# reason makes the bounce an expiry, not a deferral (the engine reads these on a greylisted
# verdict too).
_COUNT = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|multiple|many)"
GAVE_UP: tuple[str, ...] = (
    r"(?:message|delivery|envelope) (?:has )?expired",
    r"unable to deliver in",
    r"too long in (?:the )?queue",
    r"in (?:the )?queue (?:for )?too long",
    r"giving up",
    r"gave up",
    r"(?:aufgegeben|abandonn[ée]e?|abandonad[oa]|abbandonat[oa]|opgegeven)\b",  # gave up
    r"could not be delivered for",
    # Failed or undeliverable after a count of days or tries ("Delivery failed after 5 days").
    (
        r"(?:failed|undeliverable|not (?:be )?delivered|unable to deliver"
        rf"|could ?n(?:o|')t deliver)\b[^.;]{{0,40}}?\bafter {_COUNT} (?:\w+ )?"
        r"(?:days?|hours?|attempts|retries|tries)"
    ),
    (
        r"not (?:be )?delivered (?:within|in) (?:the )?(?:allowed |permitted |retry |maximum )?"
        r"(?:time|\d+ (?:hours?|days?|minutes?))"
    ),
    r"retry timeout exceeded",
    r"retry (?:limit|count) (?:reached|exceeded)",
    r"(?:retried|retrying) until",
    r"expiration (?:time|date|period)\b[^.;]{0,20}?\b(?:reached|passed|exceeded)",
    # A count of tries, in digits or words ("failed four attempts", "Tried 5 time(s)").
    rf"(?:failed )?after {_COUNT} (?:delivery )?attempt",
    rf"failed {_COUNT} (?:delivery )?attempts",
    rf"tried {_COUNT} times?\b",
    r"(?:maximum|max) (?:number of )?(?:delivery )?(?:attempts|retries)",
)

# What a refusal can name as its reason or its subject ("421 Sender address blocked"): on a
# 4xx reply, the engine reads a bare refusal that names none of these as a deferral.
REFUSED_WHAT = (
    r"polic|\b(?:sender|from|address|recipient|rcpt|user|mailbox|domain|ip|host|client|network"
    r"|relay|message|mail|content|connection|access|helo|ehlo)"
)

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
            *GAVE_UP,
            r"timed? ?out",
            r"retry time",
            (
                r"(?:unable|failed) to deliver\b[^;]{0,80}?\b(?:after|in|for|within)"
                r" (?:\d+|multiple|several|many) (?:\w+ )?(?:days?|hours?|minutes?|attempts|retries"
                r"|tries)"
            ),
            r"(?:delivery|deliver) failed (?:after )?\d+ (?:attempts|times|tries)",
            r"did not accept our requests? to connect",
            # A connect that timed out, in the words of the sending host's OS (Windows'
            # WSAETIMEDOUT) or its runtime ("execution expired").
            r"did not properly respond after a period of time",
            r"execution expired",
            r"retry time not reached",
            r"have been failing for a long time",
            r"was not reachable within",
            r"not been collected after",
            r"delivery attempts will continue",
            r"failed to deliver to domain",
            r"message timed out",
            r"server did not respond",
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
            # The sending runtime's socket errors, and a server that never greeted.
            r"(?:etimedout|econnrefused|econnreset|ehostunreach|enetunreach)\b",
            r"(?:greeting|banner) (?:was )?never received",
            r"no (?:smtp )?(?:greeting|banner) (?:received|from)",
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
