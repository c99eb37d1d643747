"""Wording rules about the recipient's side, read after the sender's: its domain does not
resolve (kept in `exporter.checks.bounce_rules_domain`), its mailbox is disabled, full or
does not exist, the message is over its size limit, or its server failed on its own. A
sender's quota comes before the full mailbox it would otherwise read as.
"""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule
from exporter.checks.bounce_rules_domain import RECIPIENT_DOMAIN, UNKNOWN_WORDS

C = BounceCategory  # short, for the tables below

# The core vocabulary in German, French, Spanish, Portuguese, Italian, Dutch, Polish and
# Czech, as stems that take their inflections: what is named (a user, an address, a mailbox;
# a domain, in `exporter.checks.bounce_rules_domain`) and the verdict on it. A rule pairs a
# noun with a verdict in either word order ("Empfänger unbekannt", "unbekannter Empfänger"),
# so that no one phrase has to be listed.
_USER_WORDS = (
    r"benutzer|empf(?:ä|ae)nger|postfach|adresse|konto|destinataire|utilisateur|compte"
    r"|usuario|usu[aá]rio|destinat[aá]rio|direcci[oó]n|endere[cç]o|buz[oó]n|cuenta|conta"
    r"|utente|indirizzo|gebruiker|ontvanger|adres|adresat|odbiorca|u[zż]ytkownik|skrzynk\w*"
    r"|mailbox|schr[aá]nk\w*|u[zž]ivatel|p[rř][ií]jemce|adres[aá]t|[uú][cč]et"
)
_FULL_BOX = (
    r"(?:postfach|mailbox|speicher\w*|buz[oó]n|caixa(?: postal| de correio)?|bo[iî]te"
    r"(?: aux lettres)?|casella(?: di posta)?|postvak|brievenbus|skrzynk\w*|schr[aá]nk\w*)"
    r"(?: [^ .;:]+){0,3}? (?:voll|(?:ü|ue)berf(?:ü|ue)llt|llen[oa]|cheia|pleine|piena|vol"
    r"|pe[lł]na|pln[aá]|przepe[lł]nion\w*|p[rř]epln[eě]n\w*)\b"
)
_OVER_QUOTA = (
    r"(?:speicherplatz|kontingent|quota|cuota|cota|espace)\w*\b[^.;]{0,20}?\b(?:überschritten"
    r"|erschöpft|excedid[oa]|superat[oa]|d[ée]pass[ée]e?|overschreden|przekroczon\w*"
    r"|p[rř]ekro[cč]en\w*)"
)
_DISABLED = (
    rf"(?:{_USER_WORDS})(?: [^ .;:]+){{0,3}}? (?:deaktiviert|stillgelegt|desactivad[oa]"
    r"|desativad[oa]|d[ée]sactiv[ée]e?|suspendu|disattivat[oa]|suspendid[oa]|sospes[oa]"
    r"|gedeactiveerd|nieaktywn\w*|deaktivovan\w*|zablokowan\w*|zablokov[aá]n\w*|deshabilitad[oa]"
    r"|desabilitad[oa]|disabilitat[oa])"
)
_TOO_LARGE = (
    r"(?:zu gro(?:ß|ss)|demasiado grande|muito grande|trop (?:gros|volumineux|grand)"
    r"|troppo grande|te groot|(?:zbyt|za) du[zż]\w*|p[rř][ií]li[sš] velk\w*)"
)

# In priority order, after `exporter.checks.bounce_rules_sender.SENDER`.
RECIPIENT: tuple[Rule, ...] = (
    (
        # An address that breaks RFC 5321's syntax ("Bad recipient address syntax", "Recipient
        # syntax error"): RFC conformance, a policy, before "bad recipient" reads as unknown.
        C.POLICY,
        (
            # keyed on "syntax", a rare word: each subject a look-behind
            *(rf"(?<={noun} )syntax\b" for noun in ("address", "recipient", "sender", "mailbox")),
            r"syntax (?:error )?(?:in|of) (?:the )?(?:recipient |sender |e-?mail |mail )?address",
            r"syntactically (?:invalid|incorrect|wrong)",
        ),
    ),
    RECIPIENT_DOMAIN,
    (
        C.RECIPIENT_DISABLED,
        (
            (
                r"(?:account|mailbox|user|address|recipient|inbox)\b[^.;]{0,40}?\b(?:is|has been"
                r"|was) (?:currently |temporarily |permanently |now )?(?:disabled|deactivated"
                r"|inactive|suspended|locked|frozen|closed|terminated|turned off|switched off"
                r"|on hold)\b"
            ),
            (
                r"(?:disabled|inactive|deactivated|suspended|frozen|archived) (?:e-?mail"
                r" )?(?:account|mailbox|mbox|user|recipient|address)"
            ),
            r"(?:recipient|destination)(?:'s)? (?:account|mailbox)\b[^.;]{0,20}?(?:blocked|locked)",
            # The state without a verb ("Address locked or deactivated"), also after a
            # restriction's prefix that names another stage ("Client host rejected: ...").
            (
                r"(?<!ip )(?<!ipv6 )(?:account|mailbox|user|address|inbox) (?:disabled|deactivated"
                r"|suspended|inactive|locked|frozen)\b"
            ),
            r"account (?:has been )?(?:disabled|discontinued)",
            r"no longer (?:valid|active|accepts mail|in use)",
            r"no longer (?:accepting|receiving|accepts|receives) (?:e-?mail|mail|messages)",
            r"temporar(?:il)?y (?:locked|inactive)",
            r"recipient suspend",
            r"(?:account|mailbox|user) (?:is )?currently (?:suspended|disabled|inactive|locked)",
            r"user or domain is disabled",
            r"has been suspended",
            r"boite du destinataire archivee",
            _DISABLED,
            r"(?:empf(?:ä|ae)nger|postfach|konto|benutzer)\w*(?: [^ .;:]+){0,3}? gesperrt\b",
            r"rejected: inactive",
            # The account named, then its state, with whatever the reply puts in between
            # ("Account closed due to inactivity", "<user> is now disabled", "account expired").
            r"(?:account|mailbox|user)\b[^.;]{0,40}?\b(?:closed|disabled|not activated)\b",
            r"(?:account|mailbox) (?:has )?expired",
            r"(?:mail )?receiving (?:is )?disabled",
            r"is now (?:disabled|deactivated|suspended)\b",
            r"(?:user|account|mailbox|recipient) (?:is )?(?:not|no longer) active\b",
        ),
    ),
    (
        # Sender-side quotas, which would otherwise read as a full mailbox.
        C.RATE_LIMITED,
        (
            r"(?:queue|submission|sending|send|relay|message|outbound|rate) quota",
            r"quota (?:for|on|of) (?:sending|outgoing|outbound|relay|messages sent)",
            r"(?:traffic|smtp|connection) quota",
            # A quota that says what it counts: messages is a rate, one message's size a size.
            r"quota\b[^.;]{0,30}?\b(?:number|count) of (?:mails|messages|e-?mails|recipients)",
        ),
    ),
    (
        C.MESSAGE_TOO_LARGE,
        (r"quota\b[^.;]{0,30}?\bsize of (?:an? |one |the )?(?:single )?(?:mail|message|e-?mail)",),
    ),
    (
        C.MAILBOX_FULL,
        (
            r"mailbox (?:is |was )?full",
            r"full mailbox",
            r"mailbox (?:size |storage )?(?:limit )?exceeded",
            r"mailbox (?:would exceed|exceeds)",
            # The verb first ("would exceed maximum mailbox size", "exceeds the inbox quota").
            (
                r"exceed\w* (?:the |its |your |their )?(?:maximum |max |allowed |permitted )?"
                r"(?:mailbox|inbox|storage) (?:size|quota|storage|limit|capacity)"
            ),
            r"over ?quota",
            r"quotaexceeded",  # Exchange STOREDRV.Deliver.Exception:QuotaExceeded
            r"quota (?:exceeded|violation|full)",
            r"exceeded (?:its |the |their |your )?(?:storage|quota|mailbox)",
            r"(?:storage|disk|userdisk|domaindisk) quota",
            # not the receiver's own ("system storage exhausted")
            r"(?<!system )(?<!server )(?:storage|space)\b[^.;]{0,20}?\b(?:exhausted|used up)",
            r"(?:out of|insufficient|not enough|no) (?:free )?(?:disk |storage )?space",
            r"mail ?folder is full",
            r"pleine",
            _FULL_BOX,
            # A mailbox's limit reached, in either order ("has reached its storage limit",
            # "mailbox capacity reached"); "saturée", "saturado" in the Romance languages.
            (
                r"(?:reached|hit|exceeded) (?:its|their|her|his) (?:(?:storage|mailbox|inbox|disk"
                r"|size) (?:limit|quota|capacity|maximum)|quota|capacity)"
            ),
            (
                r"(?:mailbox|inbox) (?:is )?(?:at|over) (?:its |the )?(?:\w+ )?(?:limit|quota"
                r"|capacity|maximum|size)"
            ),
            (
                r"(?:mailbox|inbox|storage) (?:capacity|size limit|storage limit|limit|quota)"
                r" (?:has been |was |is )?(?:reached|exceeded|hit)"
            ),
            r"(?:no|not enough|insufficient) (?:more )?room\b",
            (
                r"(?:bo[iî]te|mailbox|buz[oó]n|casella|caixa|postfach)\b[^.;]{0,40}?\b"
                r"satur(?:[ée]e?|ad[oa]|at[oa]|iert)\b"
            ),
            _OVER_QUOTA,
            r"storage allocation",
            r"inbox is full",
            r"space has been used up",
            r"too many messages on the server",
            r"\bis full\b",
            r"no space left on device",
            r"storage (?:space )?(?:is )?(?:full|exceeded|used up)",
            r"not sufficient (?:disk |storage )?space",
            r"over (?:the |its |their |your )?(?:\w+ )?(?:quota|allowance|allocated size)",
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
            # A part of the message named ("Message body is too big", "mail data too large").
            r"(?:message|mail|e-?mail) (?:body|data|text) (?:is |was )?too (?:big|large|long)",
            r"too (?:big|large) for",
            r"(?:message|mail|e-?mail) ?size",
            r"size (?:limit|exceeds?)",
            r"size of (?:your|the) message",
            (
                r"exceeds? (?:the |our )?(?:(?:maximum|max|fixed|allowed) )*(?:message |email "
                r"|mail )?size"
            ),
            r"message length",
            r"header (?:size|length)",
            r"attachments?\b[^.;]{0,30}\bexceed",
            r"recipsizelimit",
            # The size named as the message's length or its DATA's.
            r"(?:length|size) of (?:the |your )?(?:data|message|mail|e-?mail)\b(?! lines?\b)",
            r"data (?:content )?(?:size|length)\b",
            r"too much mail data",  # RFC 5321's reply to a message over the size limit
            _TOO_LARGE,
            # The size as a number the message passed ("Stream is more than 10485760 bytes").
            r"(?:message|stream|data|mail|e-?mail) is (?:more|larger|bigger) than \d+",
            # ... or than what the receiver takes ("larger than the allowed maximum").
            r"(?:message|mail|e-?mail)(?: \S+)? (?:is |was )?(?:larger|bigger) than",
            # A size in bytes the message passed ("it is over 25 MB").
            (
                r"(?:over|exceeds?|larger than|bigger than) \d+(?:[.,]\d+)? ?(?:[kmg]i?b|bytes)\b"
                r"(?![^.;]{0,25}?\b(?:quota|storage|mailbox|inbox))"  # not a mailbox's size
            ),
        ),
    ),
    (
        C.RECIPIENT_UNKNOWN,
        (
            r"user(?:name)? (?:is )?unknown",
            r"unknown (?:user|recipient|mailbox|address|local[- ]?part|e-?mail|alias)",
            # Two verdicts joined ("unknown or illegal alias", "invalid or unknown user").
            (
                r"(?:unknown|invalid|illegal|non-?existent) or (?:unknown|invalid|illegal"
                r"|non-?existent|inactive) (?:user|recipient|mailbox|address|alias|local[- ]?part)"
            ),
            r"addressee unknown",
            r"recipient unknown",
            r"user not known",
            r"address (?:is )?unknown",
            r"no such (?:user|recipient|mailbox|address|person|account|local user|alias)",
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
            # The core stems in either order, a few words apart: the recipient named, then
            # not known, not recognised or not valid ("The user you are trying to reach is not
            # valid"), or the verdict first ("Unrecognized recipient").
            (
                r"(?:user|recipient|addressee|mailbox|account)(?: [^ .;:]+){0,6}? (?:is |was )?"
                r"(?:not (?:known|recogni[sz]ed|valid)|unknown|unrecogni[sz]ed)\b"
            ),
            (
                r"(?:unrecogni[sz]ed|unknown|invalid) (?:e-?mail )?(?:user|recipient|addressee"
                r"|mailbox)"
            ),
            r"not our customer",
            r"(?:doesn'?t|does not) have an? (?:\S+ ){0,4}(?:account|mailbox)",
            # Not registered, not in use, cannot be resolved (Exchange's "The recipient cannot
            # be resolved"): the address is not one the receiver knows.
            (
                r"(?<!sender )(?<!from )(?<!ip )(?:address|user|recipient|mailbox|account)"
                r"(?: is| was)? not (?:registered|in use)\b"
            ),
            (
                r"(?:recipient|user|mailbox|address) (?:cannot|could not|couldn'?t) be"
                r" (?:resolved|located)"
            ),
            # A failed check of the recipient (a callout to the next hop, a directory
            # look-up), as "sender verify failed" is for the sender.
            r"(?:recipient|rcpt) (?:address )?(?:verification|verify|callout)\b[^.;]{0,15}?\bfail",
            r"no (?:mailbox|account) (?:here|by that name|found|available)",
            r"recipient (?:address )?rejected: (?:unverified|undeliverable|userunknown|not in)",
            # "Access denied" is Postfix's text for any access-map refusal (a policy); with
            # 5.4.1 it is Microsoft's directory-based edge block: no such recipient.
            r"5\.4\.1 (?:\S+ )?recipient address rejected: access denied",
            r"not in (?:the )?recipient list",
            r"undeliverable address",
            r"unverified address",
            r"address verification",
            r"has been replaced by",
            r"has moved",
            # The address changed (Sisimai's "hasmoved"), in English, French, German, Spanish,
            # Portuguese and Italian.
            r"(?<!ip )address (?:has |was )?changed\b",
            (
                r"(?:adresse|destinataire|empf(?:ä|ae)nger|direcci[oó]n|endere[cç]o|indirizzo)\b"
                r"[^.;]{0,40}?\b(?:a chang[ée]|hat sich ge(?:ä|ae)ndert|ha cambiado|mudou"
                r"|(?:è|e) cambiat[oa])"
            ),
            r"banned recipient",
            r"badrcptto",
            r"not a local address",
            r"(?:user|recipient) (?:is )?not local\b",  # RFC 5321's 551
            r"no valid recipients",
            r"mailbox (?:name )?(?:is )?not allowed",
            # "address rejected" alone; "... rejected for policy reasons" states its cause
            r"(?<!sender )(?<!ip )(?:address|recipient) rejected(?!:| (?:for|due to|because|by))",
            # The recipient named, then a verdict on its existence, with whatever the reply
            # puts in between ("User (<address>) unknown", "recipients are invalid",
            # "user path no exist", "recipient cannot be verified").
            (
                r"(?:user(?: ?name)?|recipient|receiver|mailbox|addressee|local[- ]?part)s?\b"
                r"[^.;]{0,40}?\b(?:is |are |was )?(?:unknown|not found|no longer exists?"
                r"|n[o']t exist|no exist|invalid|not ok|(?:cannot|could not) be verified"
                r"|not a member)\b"
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
            r"no (?:mailbox|account) by (?:that|this) name",
            # The recipient not found or not known, the verb first ("Unable to find the
            # recipient", "We do not know this user").
            (
                r"(?:unable to|could not|couldn'?t|cannot|can'?t|did not|didn'?t) (?:find|locate)"
                r" (?:the |this |that )?(?:recipient|user|mailbox|addressee)\b"
            ),
            (
                r"(?:do not|don'?t|does not|doesn'?t) know (?:of )?(?:this|that|the|any such)"
                r" (?:user|recipient|address|mailbox|person)"
            ),
            r"is not an active address",
            r"not a valid user",
            r"(?:there is )?no one (?:at|by) (?:this|that) (?:address|name)",
            r"destination addresses were unknown",
            r"(?:e-?mail )?address could not be found",
            r"address (?:couldn'?t|could not|cannot) be found",
            (
                r"address you (?:entered|specified|typed|used|sent to|wrote to) (?:couldn'?t|could"
                r" not|cannot|can'?t|wasn'?t|was not) (?:be )?found"
            ),
            r"envelope recipient (?:has been denied|is in my badrcptto)",
            r"(?:invalid|unknown) (?:or unknown )?virtual user",
            r"in my (?:validrcptto|badrecipientto|badrcptto) list",
            r"non-?existent (?:local )?(?:user|recipient|mailbox|address|account)",
            # The address itself (masked "#@") as the subject of an existence verdict.
            *(
                rf"(?<={after} )(?:does not exist|doesn't exist|(?:was )?not found|(?:is )?unknown)"
                r"\b"
                for after in ("#@", "#@>", "#@>:")
            ),
            rf"(?:{_USER_WORDS})(?: [^ .;:]+){{0,4}}? (?:{UNKNOWN_WORDS})",
            rf"(?:{UNKNOWN_WORDS})(?: [^ .;:]+)? (?:{_USER_WORDS})",
            r"nessun utente",
            r"address (?:is )?not exist(?:s|ing)?\b",  # a non-native speaker's verb
            (
                r"no (?:such )?(?:user|recipient|mailbox|account) (?:with|for|at|by) (?:this|that"
                r"|the) (?:address|name)"
            ),
            r"no existe (?:dicha persona|ese usuario)",
            r"adresse nicht gefunden",
            r"user missing home directory",
            r"can'?t accept user",
            r"destination server rejected recipients",
            r"no mail ?box available for this user",
            # The address matched against the receiver's users: none fits.
            (
                r"(?:did not|does not|doesn'?t|didn'?t) (?:exactly )?match (?:an?|any)"
                r" (?!allowed|permitted|authori[sz]ed)(?:\S+ )?(?:valid )?(?:e-?mail )?"
                r"(?:address|user|recipient|mailbox)"
            ),
        ),
    ),
    (
        # The receiver's own fault (Sisimai's "systemerror"): a deferral without a reason of
        # ours; on a 5xx reply the engine turns it into "unknown". It beats a generic
        # "rejected" ("Recipient address rejected: internal system error").
        C.GREYLISTED,
        (
            r"internal (?:system |server |mail )?error",
            r"mailbox (?:is )?(?:temporarily )?busy",  # RFC 5321's 450: not the server's load
            (
                r"(?:local|system|server|mail system|remote server)\b[^.;]{0,20}?\bconfiguration"
                r" (?:error|problem|failure)"
            ),
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
            # A back end the receiver needs to deliver (its directory, its user database).
            (
                r"(?:unable to|cannot|could not|can'?t) (?:contact|connect to|reach) (?:the )?"
                r"(?:ldap|directory|database|user database)\b"
            ),
        ),
    ),
)
