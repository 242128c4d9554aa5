"""Grading of untrusted model outputs: math answers with math-verify, multiple choice by letter. Nothing is executed;
every parse and comparison has a timeout (math-verify's, main thread), and only the end of a long completion, where
the answer is, reaches the parser, so a pathological output costs bounded time."""

from dataclasses import dataclass

from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify

THINK_CLOSE = "</think>"
ANSWER_WINDOW = 4000  # characters at the end of a completion that the parser sees
CHOICE_LETTERS = "ABCDEFGHIJ"
_MATH_EXTRACTION = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
_CHOICE_EXTRACTION = [
    LatexExtractionConfig(boxed_match_priority=0),
    StringExtractionConfig(strings=tuple(CHOICE_LETTERS)),
]


@dataclass(frozen=True)
class Grade:
    extracted: str | None
    correct: bool


def answer_region(completion: str, think_gate: bool) -> str | None:
    """The part of a completion that may hold the answer. With `think_gate`, only the text after the first `</think>`
    counts, and a completion that never closes its reasoning has none (LUFFY's rule)."""
    if think_gate:
        if THINK_CLOSE not in completion:
            return None
        completion = completion.split(THINK_CLOSE)[1]
    return completion[-ANSWER_WINDOW:]


def math_gold(answer: str, timeout: int = 5) -> list:
    """Parse a gold answer, wrapping raw LaTeX in `$...$` (math-verify mis-parses many bare answers)."""
    text = answer.strip()
    return parse(text if text.startswith("$") or "\\boxed" in text else f"${text}$", parsing_timeout=timeout)


def grade_math(completion: str, gold: str, think_gate: bool = False, timeout: int = 5) -> Grade:
    """Correct when math-verify finds an answer equivalent to `gold` (a `\\boxed{}` answer takes priority)."""
    region = answer_region(completion, think_gate)
    if region is None:
        return Grade(None, False)
    predicted = parse(region, extraction_config=_MATH_EXTRACTION, parsing_timeout=timeout)
    extracted = _shown(predicted)
    gold_parsed = math_gold(gold, timeout)
    return Grade(
        extracted, bool(gold_parsed and predicted) and verify(gold_parsed, predicted, timeout_seconds=timeout)
    )


def grade_choice(completion: str, gold_letter: str, think_gate: bool = False, timeout: int = 5) -> Grade:
    """Correct when the chosen option letter (boxed, or stated) is `gold_letter`."""
    region = answer_region(completion, think_gate)
    if region is None:
        return Grade(None, False)
    predicted = parse(region, extraction_config=_CHOICE_EXTRACTION, parsing_timeout=timeout)
    letters = [str(p).strip().strip("()").upper() for p in predicted]
    letter = next((x for x in letters if len(x) == 1 and x in CHOICE_LETTERS), None)
    return Grade(letter, letter == gold_letter.strip().upper())


def _shown(parsed: list) -> str | None:
    """The matched answer string math-verify returns last, else the first parsed value."""
    if not parsed:
        return None
    return str(parsed[-1]) if isinstance(parsed[-1], str) else str(parsed[0])
