"""Does a text read like an instruction to an AI agent? Offline rules in English, German, French,
Spanish and Italian (role overrides, "ignore previous instructions", exfiltration requests, tool-call
phrasing), plus a hook for an optional local classifier. Nothing here touches the network."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# A local classifier maps a text to the probability that it is an injected instruction.
Classifier = Callable[[str], float]

_W = r"[\w'’-]+"  # one word, any script
_GAP = rf"(?:\s+{_W}){{0,4}}?\s+"  # up to four words in between

_RULES: dict[str, tuple[str, ...]] = {
    "override": (
        # en
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\b(?:\s+\w+){0,3}?\s+"
        r"(?:previous|prior|above|earlier|preceding|all|any|your|the|system|original)\b(?:\s+\w+){0,2}?\s+"
        r"(?:instructions?|prompts?|rules|guidelines|directions|context|messages?|orders)\b",
        r"\bnew\s+(?:instructions?|rules|system\s+prompt)\s*:",
        r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|mention\s+(?:this|it)\s+to|reveal\s+(?:this|it)\s+to)"
        r"\s+the\s+(?:user|human|recruiter|reader)\b",
        # de
        r"\b(?:ignorier|vergiss|missacht|übergeh)\w*\b(?:\s+\w+){0,3}?\s+(?:vorherigen?|bisherigen?|obigen?|"
        r"früheren?|alle[ns]?|deine[n]?|sämtliche[n]?)\b(?:\s+\w+){0,2}?\s+(?:anweisung|instruktion|befehl|regel|"
        r"vorgabe|anordnung)\w*",
        r"\bneue\s+anweisung(?:en)?\s*:",
        # fr
        r"\b(?:ignore[rz]?|oublie[rz]?|néglige[rz]?)\b(?:\s+\w+){0,3}?\s+(?:les\s+|toutes\s+les\s+|vos\s+|tes\s+)?"
        r"(?:instructions?|consignes?|règles|directives)\b(?:\s+\w+){0,2}?\s*(?:précédentes?|antérieures?|"
        r"ci-dessus|du\s+système)?",
        r"\bnouvelles?\s+(?:instructions?|consignes?)\s*:",
        # es
        r"\b(?:ignora|ignore|ignorar|olvida|olvide|olvidar|omite)\b(?:\s+\w+){0,3}?\s+(?:las\s+|todas\s+las\s+|tus\s+)?"
        r"(?:instrucciones|indicaciones|reglas|órdenes)\b",
        r"\bnuevas\s+instrucciones\s*:",
        # it
        r"\b(?:ignora|ignorare|dimentica|dimenticare|trascura)\b(?:\s+\w+){0,3}?\s+(?:le\s+|tutte\s+le\s+|"
        r"ogni\s+)?(?:istruzioni|indicazioni|regole|direttive)\b",
        r"\bnuove\s+istruzioni\s*:",
    ),
    "role": (
        r"\byou\s+are\s+(?:now|no\s+longer)\b",
        r"\b(?:from\s+now\s+on|henceforth),?\s+(?:you|act|respond|behave)\b",
        r"\b(?:act|behave|pretend|roleplay)\s+(?:as|like)\s+(?:an?\s+)?(?:unrestricted|jailbroken|dan|"
        r"developer|admin|system|different)\b",
        r"\b(?:reveal|print|show|repeat|output|leak|disclose)\b(?:\s+\w+){0,3}?\s+(?:your\s+|the\s+)?"
        r"(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)\b",
        r"\b(?:enter|enable|activate|switch\s+to)\s+(?:the\s+)?(?:developer|god|dan|jailbreak)\s+mode\b",
        r"<\|?\s*(?:im_start|system|endoftext)\s*\|?>|\[/?(?:inst|system)\]|^\s*#{2,}\s*system\b",
        r"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|assistant|chatbot|language\s+model|"
        r"agent|gpt|chatgpt|claude|copilot)\b",
        r"\b(?:ai|llm|assistant|chatbot|gpt|chatgpt|claude|copilot|gemini)\s*[,:]\s*(?:please\s+)?"
        r"(?:ignore|say|respond|reply|answer|output|return|rate|rank|recommend|tell|print|write|include|send)\b",
        r"\bif\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|automated)\b",
        r"\b(?:as|being)\s+an?\s+(?:ai|llm)\s+(?:model|assistant|agent)\s+you\s+(?:must|should|will)\b",
        # de / fr / es / it
        r"\bdu\s+bist\s+(?:jetzt|nun|ab\s+sofort|ab\s+jetzt)\b",
        r"\b(?:tu\s+es|vous\s+êtes)\s+(?:maintenant|désormais|dorénavant)\b",
        r"\b(?:ahora\s+eres|a\s+partir\s+de\s+ahora\s+eres)\b",
        r"\b(?:ora|adesso|da\s+ora)\s+sei\b",
        r"\b(?:hinweis|nachricht)\s+(?:an|für)\s+(?:die\s+|den\s+)?(?:ki|assistent\w*|sprachmodell)\b",
        r"\b(?:si\s+tu\s+es|si\s+vous\s+êtes|wenn\s+du\s+eine?|si\s+eres\s+una?|se\s+sei\s+una?)\s+"
        r"(?:ia|ki|ai|modèle|sprachmodell|modelo|modello|assistant\w*|asistente|assistente)\b",
    ),
    "exfiltration": (
        r"\b(?:send|email|e-mail|mail|post|forward|upload|exfiltrate|transmit|leak|share|include)\b"
        rf"{_GAP}(?:the\s+|all\s+|any\s+|your\s+|user'?s?\s+)?(?:passwords?|credentials|api\s+keys?|secrets?|tokens?|"
        r"private\s+keys?|conversation|chat\s+history|system\s+prompt|session\s+cookies?|ssh\s+keys?)\b",
        r"!\[[^\]]*\]\(https?://[^)]*[?&][\w-]+=\s*\{",  # markdown image beacon with a templated query
        r"\b(?:sende|schicke|übermittle|leite)\w*\b(?:\s+\w+){0,4}?\s+(?:passw[oö]rt\w*|zugangsdaten|"
        r"api-?schlüssel\w*|geheimnisse|tokens?|chatverlauf|unterhaltung)\b",
        r"\b(?:envoie|envoies|envoyez|envoyer|transmets|transmettez|transfère[rz]?)\b(?:\s+\w+){0,4}?\s+(?:les\s+|le\s+|vos\s+|tes\s+)?"
        r"(?:mots?\s+de\s+passe|identifiants|clés?\s+api|secrets?|jetons?|conversation)\b",
        r"\b(?:envía|envia|enviar|manda|reenvía)\b(?:\s+\w+){0,4}?\s+(?:las\s+|los\s+|la\s+|tus\s+)?"
        r"(?:contraseñas?|credenciales|claves?\s+api|secretos?|tokens?|conversación)\b",
        r"\b(?:invia|inviare|manda|inoltra)\b(?:\s+\w+){0,4}?\s+(?:le\s+|la\s+|i\s+|tutte\s+le\s+)?"
        r"(?:password|credenziali|chiavi\s+api|segreti|token|conversazione)\b",
    ),
    "tool_call": (
        r"\b(?:call|invoke|run|execute|trigger)\s+(?:the\s+)?(?:tool|function|plugin|api|command)s?\s*[:\s]\s*"
        r"[`\"']?\w*[_.(]\w*",
        r"\{\s*\"(?:tool|function|name|action)\"\s*:\s*\"",
        r"<(?:tool_call|function_call|invoke)\b",
        r"\b(?:run|execute)\s+(?:the\s+following|this)\s+(?:command|code|script|shell)\b",
        r"\b(?:rufe|führe)\b(?:\s+\w+){0,3}?\s+(?:das\s+)?(?:werkzeug|tool|funktion|befehl)\w*\b(?:\s+\w+){0,3}?\s+"
        r"(?:auf|aus)\b",
        r"\b(?:appelle[rz]?|exécute[rz]?|utilise[rz]?)\s+(?:l'outil|la\s+fonction|la\s+commande|l’outil)\b",
        r"\b(?:llama|ejecuta|invoca|usa)\s+(?:a\s+)?(?:la\s+herramienta|la\s+función|el\s+comando)\b",
        r"\b(?:chiama|esegui|invoca|usa)\s+(?:lo\s+|il\s+|la\s+)?(?:strumento|funzione|comando|tool)\b",
    ),
    "output_steering": (
        r"\b(?:respond|reply|answer|say|output|return|print|state)\s+(?:only\s+)?(?:with\s+)?(?:the\s+(?:text|phrase|"
        r"words)\s+)?[\"“'][^\"”']{3,}[\"”']",
        r"\b(?:rate|rank|score|recommend|evaluate|consider|classify)\s+(?:this|the)\s+(?:candidate|applicant|"
        r"résumé|resume|cv|document|paper|submission|email|vendor|product)\s+(?:as|at|highly|positively|"
        r"favorably|above|the\s+best)\b",
        r"\b(?:this|the)\s+(?:candidate|applicant)\s+is\s+(?:the\s+)?(?:perfect|best|ideal|most\s+qualified)\b",
    ),
}

_COMPILED = tuple(
    (category, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for category, patterns in _RULES.items()
    for pattern in patterns
)


@dataclass(frozen=True)
class InstructionMatch:
    """Why a text reads like an instruction: the rule category and the matching phrase."""

    category: str
    phrase: str


class InstructionDetector:
    """Offline instruction-likeness rules; `classifier` (a local model, optional) can add positives."""

    def __init__(self, classifier: Classifier | None = None, threshold: float = 0.5) -> None:
        self._classifier = classifier
        self._threshold = threshold

    def match(self, text: str) -> InstructionMatch | None:
        """The first rule that matches, or the classifier's verdict, or None."""
        normalized = unicodedata.normalize("NFKC", text)
        normalized = re.sub(r"\s+", " ", normalized)
        for category, pattern in _COMPILED:
            found = pattern.search(normalized)
            if found:
                return InstructionMatch(category, found.group().strip())
        if self._classifier is not None and normalized.strip() and self._classifier(normalized) >= self._threshold:
            return InstructionMatch("classifier", normalized.strip()[:200])
        return None

    def is_instruction_like(self, text: str) -> bool:
        """True when the text reads like an instruction addressed to an AI agent."""
        return self.match(text) is not None
