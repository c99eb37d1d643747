"""Wording rules on the recipient's domain, read first among the recipient's rules
(`exporter.checks.bounce_rules_recipient` puts them there): it does not exist, has no usable
MX or null MX, or its DNS look-up failed. The engine gives a failure it finds quoted for the
sender (MAIL FROM, "your domain", X.1.8) to the sender's domain.
"""

from __future__ import annotations

from exporter.checks.bounce_rules_categories import BounceCategory, Rule

C = BounceCategory  # short, for the tables below

# A domain and an existence verdict in German, French, Spanish, Portuguese, Italian, Dutch,
# Polish and Czech, as stems that take their inflections; the verdicts serve the recipient's
# rules too.
_DOMAIN_WORDS = r"dom(?:ä|ae)ne|domaine|dominio|dom[ií]nio|domein|domen[ay]?|dom[eé]na"
UNKNOWN_WORDS = (
    r"unbekannt\w*|existiert nicht|nicht vorhanden|nicht gefunden|inconnue?s?|n'existe pas"
    r"|inexistant\w*|desconocid[oa]|no existe|inexistente|n[aã]o existe|sconosciut[oa]"
    r"|non esiste|inesistente|onbekend\w*|bestaat niet|niet gevonden|nie istnieje|nieznan\w*"
    r"|neexistuje|nezn[aá]m\w*|nicht bekannt|n'est pas connue?|no es conocid[oa]"
    r"|non (?:è|e) conosciut[oa]|niet bekend"
    # not found, not valid
    r"|introuvables?|invalides?|ung(?:ü|ue)ltig\w*|no v[aá]lid[oa]|non valid[oa]|inv[aá]lid[oa]"
    r"|ongeldig\w*|nieprawid[lł]ow\w*|neplatn\w*|nenalezen\w*|nie znalezion\w*|nie znaleziono"
)

RECIPIENT_DOMAIN: Rule = (
    C.RECIPIENT_DOMAIN_DNS,
    (
        r"host or domain name not found",
        (
            r"(?:recipient |destination )?domain (?:name )?(?:not found|does not exist"
            r"|doesn't exist|is not reachable|must exist|does not resolve)"
        ),
        r"no such domain",
        r"(?<!sender )(?<!from )domain \S+ (?:does not|doesn't|did not) exist",
        (
            r"(?:unknown|invalid|non-?existent|unresolvable|unroute?able|bad) (?:recipient "
            r"|destination |mail )?domain"
        ),
        r"unroute?able address",
        r"\b(?:no|null) mx\b",
        rf"(?:{_DOMAIN_WORDS})(?: [^ .;:]+){{0,4}}? (?:{UNKNOWN_WORDS})",
        r"(?<!sender )(?<!from )domain (?:name )?(?:is )?(?:unknown|not found)\b",
        # No MX that works, however phrased ("no valid MX records", "can't find a valid MX").
        (
            r"(?:no|without|(?:can'?t|cannot|could not|couldn'?t|unable to) find)"
            r" (?:an? |any )?(?:valid|usable|working|good) mx\b"
        ),
        r"(?:can'?t|cannot|could not|couldn'?t|unable to) find (?:an? |any )?mx\b",
        r"no (?:mail ?hosts?|mail ?servers?|mail exchangers?) (?:found )?for\b",
        r"(?:invalid|unusable|bad|broken) mx\b",
        r"mx (?:record|lookup|host)s? (?:not found|failed|missing)",
        r"(?:does not|doesn't|do not|don't) have (?:any |an )?mx records?",
        r"(?:has|have) no (?:mx|mail exchanger) records?",
        # No mail server, host or DNS data for the domain, however worded.
        r"(?:has|have) no (?:mail ?servers?|mail hosts?|mail exchangers?)\b",
        (
            r"no dns (?:records?|entr(?:y|ies)|data) (?:were )?(?:found )?for (?!(?:your|the"
            r" (?:sending|client|connecting)) (?:ip|host|address|server))"
        ),
        # "could not resolve the recipient domain", "the destination domain could not be
        # resolved"; the engine gives the sender's domain to the sender.
        (
            r"(?:could not|couldn'?t|cannot|can'?t|unable to|failed to) resolve (?:the )?"
            r"(?:recipient(?:'s)? |destination |target |mail )?(?:domain|mx|mail exchanger)"
        ),
        r"domain(?: name)?(?: \S+)? (?:could not|couldn'?t|cannot|can'?t) be resolved",
        # German writes "Domain" too ("Domain nicht gefunden").
        r"domain (?:\S+ )?(?:unbekannt\w*|existiert nicht|nicht (?:gefunden|vorhanden|bekannt))",
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
        # RFC 7505's null MX, with or without the domain named ("Domain example.org does
        # not accept mail"); the engine gives it to the sender when the reply is about it.
        r"(?:host|domain|host/domain)(?: \S+)? does not accept (?:any )?mail",
        r"does not accept mail \(nullmx\)",
        r"(?:mx|srv) records? indicated no smtp service",
        r"dns (?:lookup|resolution|query) fail\w*",
        # A failed look-up however it is worded ("DNS resolving error", "Unable to lookup
        # DNS for ..."); "your" domain's, the engine gives to the sender.
        r"dns (?:lookup|resolution|resolving|resolve|query) (?:error|problem)",
        r"(?:unable|failed|could not|cannot|can'?t) (?:to )?(?:look ?up|resolve) (?:the )?dns",
        # Mail exchangers that no one can reach ("point to local networks").
        r"mail exchangers? (?:\S+ )?points? to (?:local|private|loopback|reserved|internal)",
        # ... also as an MX record, host or list, for a domain named ("Lowest numbered MX
        # record points to local host", "MX for example.org points back to itself").
        (
            r"(?:mx|mail exchangers?) (?:(?:records?|hosts?|list|entry|entries) )?(?:for \S+ )?"
            r"points? (?:back )?to (?:an? |the )?(?:local|private|loopback|reserved|internal"
            r"|itself|myself|me)\b"
        ),
        r"dns error\b[^.;]{0,80}?\bresponded with code",  # Gmail's DNS failures
        r"\b(?:nxdomain|servfail)\b",
        r"host ?name lookup fail\w*",
        # The failure first ("Temporary failure of hostname lookup", "error during DNS query").
        (
            r"(?:fail\w*|error) (?:of|in|during|on) (?:the )?(?:dns|mx|host ?name|domain ?name"
            r"|name) (?:lookup|resolution|query)"
        ),
        r"name or service not known",
        # The sending runtime's resolver errors (Node's ENOTFOUND, getaddrinfo's EAI_NONAME).
        r"enotfound\b",
        r"eai[_ ](?:noname|nodata|again)\b",
        r"nodename nor servname",
        r"no address associated with (?:host ?name|name)",
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
)
