"""The FAQ skill: finds the entry of knowledge/faq.md whose question (and, less, whose answer) shares the most words
with the user's."""
import json
import os
import re
import sys

STOP = {"a", "an", "the", "i", "my", "me", "do", "does", "is", "are", "can", "you", "your", "to", "of", "and", "or",
        "what", "which", "how", "in", "on", "for", "it", "we", "our", "take"}

# Question words that point at a topic the FAQ's wording does not repeat ("when are you open?" asks for hours).
TOPICS = {"when": "hour", "time": "hour", "pay": "payment", "back": "return"}


def stem(word):
    """A crude stem, so that "opening" meets "open" and "hours" meets "hour"."""
    for suffix in ("ing", "ed", "es", "s", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text):
    found = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word in STOP:
            continue
        found.add(stem(word))
        if word in TOPICS:
            found.add(stem(TOPICS[word]))
    return found


def entries(markdown):
    """(question, answer) pairs: each '## ' heading and the text under it."""
    found, question, lines = [], None, []
    for line in markdown.splitlines():
        if line.startswith("## "):
            if question:
                found.append((question, " ".join(lines).strip()))
            question, lines = line[3:].strip(), []
        elif question and line.strip():
            lines.append(line.strip())
    if question:
        found.append((question, " ".join(lines).strip()))
    return found


def main():
    request = json.load(sys.stdin)
    question = request.get("question")
    if not isinstance(question, str) or not question.strip():
        print("input.question must be a non-empty string", file=sys.stderr)
        sys.exit(2)
    path = os.path.join(os.environ["SWIFTLET_WORKSPACE"], "knowledge", "faq.md")
    with open(path, encoding="utf-8") as faq:
        pairs = entries(faq.read())
    asked = words(question)
    best, score = None, 0
    for candidate, answer in pairs:
        # The heading is the question the entry answers: a word shared with it weighs three times a word that only
        # appears in the answer (where "Open Settings" must not make the password entry an answer about opening hours).
        overlap = 3 * len(asked & words(candidate)) + len(asked & (words(answer) - words(candidate)))
        if overlap > score:
            best, score = (candidate, answer), overlap
    if best is None:
        print(json.dumps({"matched": None, "answer": None}))
    else:
        print(json.dumps({"matched": best[0], "answer": best[1]}))


main()
