"""The FAQ skill: finds the entry of knowledge/faq.md whose question shares the most words with the user's."""
import json
import os
import re
import sys

STOP = {"a", "an", "the", "i", "my", "me", "do", "does", "is", "are", "can", "you", "your", "to", "of", "and", "or",
        "what", "which", "how", "in", "on", "for", "it", "we", "our"}


def words(text):
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP}


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
        overlap = len(asked & words(candidate + " " + answer[:80]))
        if overlap > score:
            best, score = (candidate, answer), overlap
    if best is None:
        print(json.dumps({"matched": None, "answer": None}))
    else:
        print(json.dumps({"matched": best[0], "answer": best[1]}))


main()
