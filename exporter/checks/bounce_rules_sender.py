"""Wording rules that judge the sender, read first: the message was suppressed or greylisted,
its authentication (DMARC, SPF, DKIM, SMTP AUTH), the sending host's reverse DNS and TLS,
the sender's domain, the reputation and the block lists of the domain and the host (kept in
`exporter.checks.bounce_rules_reputation`), relay denials, the HELO name, and loops or
protocol errors of the session. Most specific first; `exporter.checks.bounce_rules` puts
them before the recipient's rules."""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule
from exporter.checks.bounce_rules_reputation import REPUTATION

C = BounceCategory  # short, for the tables below

FAIL = (
    r"(?:fail(?:s|ed|ure)?|did ?n[o']t pass|not pass|(?:hard|soft) ?fail|invalid|violation"
    r"|(?:did|does|could) ?n(?:o|')t (?:be )?verif(?:y|ied)"
    r"|error|reject(?:ed|ion)?|suspicious|permerror|temperror|bad|broken|missing|not valid"
    r"|mismatch|does not match|doesn't match|not (?:allowed|permitted|authori[sz]ed)|not found"
    # a refusal whose agent or subject is the check ("prohibited by SPF", "SPF unauthorized")
    r"|prohibit(?:s|ed)?|unauthori[sz]ed|forbid(?:s|den)?|disallow(?:s|ed)?"
    r"|(?:does not|doesn't) (?:authori[sz]e|permit|allow))"
)
SPF_FAILED = (
    rf"\b(?:sender policy framework|\bspf\b[^;!?]{{0,60}}?\b{FAIL}|{FAIL}[^;!?]{{0,25}}?\bspf\b"
    r"|per it'?s spf|does not designate|not permitted by (?:the )?(?:domain|sender)"
    # the check named as the agent of a refusal ("blocked by SPF", "rejected due to SPF")
    r"|(?:blocked|rejected|refused|denied) (?:by|due to|because of) (?:the |an? )?spf\b"
    r"|(?:inspect|check|fix) your spf"
    # a reply that names the check only by a link to SPF's explanation page ("Why?")
    r"|openspf\.(?:org|net)/why"
    # Exim's documented SPF refusal: "<ip> is not allowed to send mail from <domain>"
    r"|(?<=# )is not allowed to send mail from"
    # SPF's question in plain words: is this server one the domain authorises to send for it?
    r"|(?:server|host|ip)\b[^.;]{0,20}?\bauthori[sz]ed to send (?:e-?mail |mail )?(?:from|for)"
    r" (?:your|the|this|that) domain"
    # an RFC 7208 result other than pass, named as the check's result
    r"|spf (?:check |record |validation )?(?:result )?(?:is |was |: ?|= ?)"
    r"(?:none|neutral|softfail)\b)"
)
DKIM_FAILED = (
    rf"\b(?:dkim\b[^;!?]{{0,40}}?\b{FAIL}|{FAIL}[^;!?]{{0,15}}?\bdkim\b"
    r"|body hash did not verify|no (?:passing |valid |acceptable )?dkim signature"
    r"|(?:blocked|rejected|refused|denied) (?:by|due to|because of) (?:the |an? )?dkim\b"
    r"|dkim signature (?:is )?(?:missing|required|not found))"
)
BOTH_FAILED = r"both spf and dkim|neither spf nor dkim|spf and dkim (?:both )?fail"

# In priority order: the first rule that matches anywhere in the text decides.
SENDER: tuple[Rule, ...] = (
    (
        C.SUPPRESSED,
        (
            r"suppression ?list",
            r"blacklisted address:",  # the SES mailbox simulator's suppression-list reply
            r"amazon ses (?:did not send|has suppressed|suppressed)",
            # An ESP's own list of addresses it no longer sends to (Postmark's "inactive
            # recipients", Mailgun's "previously bounced address"): the mail never left.
            r"(?:marked|flagged) as inactive",
            r"inactive recipients? (?:are|is)\b",
            r"do[- ]not[- ](?:send|mail|e-?mail|contact) list",
            (
                r"(?:to|address(?:es)?|recipients?) (?:that )?(?:has |have )?previously"
                r" (?:hard[- ])?bounced"
            ),
            (
                r"(?:address|recipient)(?:es|s)? (?:is |are |was |were |has been |have been )"
                r"suppressed"
            ),
            r"known to (?:hard[- ])?bounce",  # a provider's list of addresses that bounced
            # An ESP's bounce, complaint or unsubscribe list, in other words: the address
            # bounced or complained before, or unsubscribed; "not delivering to" it.
            r"(?:on|in|to) (?:the |its |our |your )?(?:bounce|complaints?|unsubscribe) ?list",
            r"(?:hard[- ]?)?bounced previously",
            r"previously (?:reported|marked|flagged) (?:\w+ )?as (?:spam|a complaint)",
            r"(?:recipient|address|user|contact) (?:has |is |was )?unsubscribed",
            r"not delivering to (?:a |an |the )?(?:user|recipient|address)\b",
        ),
    ),
    (
        C.GREYLISTED,
        (
            r"gr[ea]y-? ?list",
            # A restriction's reply ("Recipient address rejected:", "Helo command rejected:")
            # whose only reason is to come back later: a deferral, whatever it rejected.
            r"rejected: (?:please )?(?:try (?:again )?later|retry later|come back later)",
        ),
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
            r"openspf\.",
            r"authorized to send",
            r"authorised to send",
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
            # A group or list that takes mail from its members only.
            r"not (?:subscribed|a member) (?:to|of) (?:this |the )?(?:group|list|mailing list)\b",
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
            # The session must log in before MAIL FROM (OpenSMTPD, Stalwart, submission ports;
            # Sisimai's "securityerror" wording too).
            r"authenticate first",
            r"must (?:log ?in|sign ?in|authenticate) (?:to|before|first)",
            r"(?:issue|send|use) an? auth command",
            r"auth (?:command )?(?:first|required)",
            r"(?:don'?t|do not|did not) authenticate\b",
            r"unauthenticated senders? (?:are )?not (?:allowed|permitted)",
            r"not logged in\b",  # Postfix: a sender address owned by a login, no login given
            # The session, the port or the relay named as what needs a login.
            r"(?:port|session|connection|client) must (?:be )?authenticat",
            r"submission port",
            r"relay\w*\b[^.;]{0,30}?\bwithout (?:smtp )?auth",
            r"credentials? for relay",
            r"authentication mechanism",
            # An anonymous (not logged in) client, user or session ("Anonymous client does not
            # have permissions to send as this sender").
            r"anonymous (?:client|user|sender|session|connection|smtp|relay|submission)s?\b",
        ),
    ),
    (
        C.REVERSE_DNS,
        (
            r"\bptr\b",
            r"\bip (?:address )?(?:has no|without an?|lacks an?) (?:dns |host ?)?name",
            (
                r"host ?name (?:of|for) (?:your|the sending|the client) (?:ip|address)\b"
                r"[^.;]{0,20}?\b(?:does not match|mismatch|not found|unknown|could not|cannot"
                r"|missing|does not resolve)"
            ),
            r"reverse[- ](?:dns|lookup)",
            r"\brdns\b",
            r"(?:dns|name) reverse\b",
            r"\bip (?:address )?(?:must|should|does not|doesn'?t) resolve",
            r"cannot find your (?:host ?name|reverse)",
            r"cannot resolve your (?:address|host ?name|ip)",
            r"name lookup failed",
            r"forward dns",
            r"fcrdns",
            r"unresolvable relay host",
            r"generic (?:dns|rdns|host ?name)",
            r"mismatches client ip",
            r"unverif[iy]able sending ips?",
            # "reverse" as what the host lacks, however the rest is worded ("do not have a
            # reverse look name"); RFC 5321's reverse-path is the envelope sender.
            r"reverse[- ](?:look|name|record|mapping|resolution|entry|pointer|zone)",
            r"(?:no|have an?|has an?|without an?|missing an?|lacks an?) reverse\b(?![- ]path)",
        ),
    ),
    (
        C.AUTHENTICATION,
        (
            r"unauthenticated",
            r"must authenticate",
            r"must pass (?:either )?(?:spf|dkim)",
            # The two checks named together as what the sender needs, none as failed ("ensure
            # the service you send from has SPF or DKIM").
            *(
                rf"(?<={verb} )(?:spf|dkim) (?:and/or|or) (?:dkim|spf)\b"
                for verb in ("has", "have", "use", "publish", "with", "need", "needs", "either")
            ),
            r"(?:spf|dkim) (?:and/or|or) (?:dkim|spf) (?:is |are )?(?:required|needed|mandatory)",
            r"authentication (?:level|requirement|information|fail)",
            r"fails? to pass authentication",
            r"failed (?:the |our )?authentication checks?",
            r"(?:could not|couldn'?t|cannot) be authenticated",
            r"not (?:properly )?authenticated",
            r"authentication checks failed",
            # ARC (RFC 8617) is none of SPF, DKIM and DMARC: unauthenticated mail in general.
            r"\barc\b[^.;]{0,20}?\b(?:validation|verification|seal|chain|check)s? (?:\w+ )?fail",
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
            r"must (?!not\b|never\b)[^.;]{0,30}?\bencrypt(?:ion|ed)\b",
            # Other requirement words ("is required to send via an encrypted SMTP session").
            r"(?:required|requires?|needs?|has|have) to [^.;]{0,30}?\bencrypt(?:ion|ed)\b",
            r"encrypt(?:ion|ed)\b[^.;]{0,30}?\b(?:is |are )?(?:required|needed|mandatory|enforced)",
            r"only (?:accepts? |allows? |takes? )?encrypted",
            # Encryption required in German, French, Spanish, Portuguese, Italian, Dutch,
            # Polish and Czech.
            (
                r"(?:verschl(?:ü|ue)sselung|chiffrement|cifrado|criptograf[ií]a|crittografia"
                r"|versleuteling|szyfrowani\w*|[sš]ifrov[aá]n[ií])\b[^.;]{0,30}?\b(?:erforderlich"
                r"|notwendig|requis|obligatoire|requerid[oa]|obligatori[oa]|necess[aá]ri[oa]"
                r"|richiest[oa]|vereist|verplicht|wymagan\w*|vy[zž]adov[aá]n\w*)"
            ),
            r"(?:connection|session|channel|transport)s? (?:is |was |are )?not encrypted",
            (
                r"secure (?:connection|channel|transport|session) (?:is )?(?:required|needed"
                r"|mandatory)"
            ),
            r"encrypt(?:ion|ed) (?:connection |channel |transport )?(?:is )?mandatory",
        ),
    ),
    (
        C.SENDER_DOMAIN_DNS,
        (
            r"domain of sender address",
            r"(?:failure|error|failed) (?:in |while |when )?resolving (?:the |your )?sender",
            # The sender's domain named as "your address's" or as what could not be resolved.
            r"domain of your (?:e-?mail |sender |from )?address",
            (
                r"(?:cannot|could not|couldn'?t|unable to|failed to) resolve (?:the |your )?"
                r"sender(?:'s)? (?:address |e-?mail )?domain"
            ),
            (
                r"sender (?:address |e-?mail )?(?:rejected: )?(?:domain )?(?:not found|does not"
                r" exist|doesn't exist|does not resolve|unresolvable)"
            ),
            (
                r"sender(?:'s)? (?:address )?domain (?:not found|does not exist|doesn't exist"
                r"|does not resolve|unknown|must (?:exist|resolve|be valid)|is (?:invalid|empty"
                r"|not resolvable)|(?:could not|cannot|couldn'?t) be (?:found|resolved))"
            ),
            (
                r"(?:invalid|unknown|unresolvable|unroutable|non-?existent|bad) sender (?:address"
                r" )?domain"
            ),
            r"unresolvable rfc\.?5321 (?:from )?domain",
            r"sender verify failed",
            r"(?:cannot|could not|couldn'?t|unable to|failed to) verify (?:the |your )?sender\b",
            # Callouts: the receiver asked the sender's own servers about the address.
            r"(?:postmaster|sender|callout) verification (?:failed|failure|error)",
            r"(?:could not complete|failed) sender verify",
            r"(?<!recipient )verification failed for",
            r"verify (?:mail ?from|sender) fail",
            r"unroutable sender",
            r"sender'?s? system address",
            r"sender address has null mx",
            (
                r"(?:requires?|needs?|must (?:have|use)) (?:an? )?(?:valid|existing|resolvable)"
                r" (?:sender|from|mail from|envelope) (?:address )?domain"
            ),
            (
                r"valid (?:sender|from|mail from|envelope) (?:address )?domain (?:is )?(?:required"
                r"|needed|expected)"
            ),
            r"sender(?:'s)? domain \S+ (?:is )?(?:not valid|invalid|not resolvable|unresolvable)",
            r"(?:from:?|sender) domain is invalid",
            r"sender address rejected: (?:dns|name|host) (?:lookup|resolution)? ?fail",
        ),
    ),
    *REPUTATION,
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
            r"(?:does not|doesn'?t|do not|don'?t|will not|won'?t|cannot|can'?t) relay\b",
            r"no relaying",
            r"relaying (?:is )?not",
            # qmail's rcpthosts: the receiver does not serve that domain
            r"list of (?:allowed|permitted|accepted|relay|local) (?:rcpt ?)?(?:hosts?|domains)\b",
            r"insecure mail relay",
            r"not a gateway",
            r"not an open relay",
            r"relaying mail to",
            # the domain named between ("Relaying to example.org is not permitted")
            (
                r"relay(?:ing)? (?:to|for) \S+ (?:is )?(?:not (?:permitted|allowed)|denied"
                r"|prohibited|refused|rejected)"
            ),
            r"(?:we )?don'?t handle mail for",
            (
                r"(?:does not|doesn'?t|do not|don'?t) (?:accept|handle|receive) (?:e-?)?mail for"
                r" (?:that|this|the) domain"
            ),
            # The recipient's domain is not one this host serves ("Your domain is not configured
            # to use this MX host").
            (
                r"domain(?: \S+)? (?:is )?not (?:configured|hosted|served|handled|set up|accepted)"
                r" (?:on|by|for|to use|at) (?:this|our) (?:mx|mail ?server|server|host|gateway"
                r"|system)"
            ),
            r"tenantattribution",
            # The verb before the relay ("host denies relay.", "relay check local fail.").
            r"(?:denies|deny|refuses|rejects|forbids) relay(?:ing)?\b",
            r"relay check\b[^.;]{0,20}?\bfail",
            # Relaying refused in other languages.
            (
                r"rel(?:ay|ais)\w*\b[^.;]{0,40}?\b(?:nicht erlaubt|nicht gestattet|no permitido"
                r"|n[aã]o permitido|non autoris[ée]e?|interdit|non consentito|non permesso"
                r"|niet toegestaan|niedozwolon\w*|zak[aá]z[aá]n\w*)"
            ),
        ),
    ),
    (
        # The sender's own account may not send ("message sending for this account is
        # disabled"): the provider's policy on the sender, not a disabled mailbox.
        C.POLICY,
        (
            (
                r"(?:sending|outgoing mail|outbound mail) (?:for"
                r"|from|on|of) (?:this|your|the) (?:account|user|mailbox|login)\b[^.;]{0,20}?\b"
                r"(?:disabled|suspended|blocked|restricted)\b"
            ),
            (
                r"(?:sending|outgoing mail|outbound mail) (?:is |has been |was )?(?:disabled"
                r"|suspended|blocked|restricted) (?:for|on) (?:this|your|the) (?:account|user"
                r"|mailbox|login)"
            ),
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
            r"(?:helo|ehlo) ?(?:host|name)? (?:error|check fail\w*|mismatch)",
            # The name checked, then what it must be or lacks ("HELO must have a dot", "EHLO
            # is not a valid host name"), or a fault found in it at the clause's end ("bare IP
            # address in HELO"); "after EHLO", "in reply to HELO" only name the stage, and
            # advice goes on ("... in the HELO or EHLO command").
            (
                r"(?:helo|ehlo) (?:\S+ )?(?:must|should|needs?|requires?|is not|isn'?t|does not"
                r"|doesn'?t|has no|lacks|contains|looks)\b"
            ),
            r"in (?:the |your )?(?:helo|ehlo)(?: (?:command|name|greeting))?(?=$|[^\w ]| [(\[])",
            # The client greets with the receiver's own name ("You cannot say you are me",
            # "HELO claims to be our host").
            (
                r"(?:say|says|saying|claim\w*|pretend\w*) (?:that )?(?:you are|you're|to be|it is)"
                r" (?:me|us|myself|this (?:host|server)|(?:my|our) (?:host|server|domain|name))\b"
            ),
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
)
