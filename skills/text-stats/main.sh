#!/usr/bin/env bash
# The text statistics skill: a file processor in shell. Reads {"path": ..., "top": N} on standard input.
set -euo pipefail
input=$(cat)
path=$(printf '%s' "$input" | sed -n 's/.*"path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
top=$(printf '%s' "$input" | sed -n 's/.*"top"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
top=${top:-5}
if [ -z "$path" ]; then echo "input.path is required" >&2; exit 2; fi
if [ "$top" -lt 1 ] || [ "$top" -gt 20 ]; then echo "input.top must be from 1 to 20" >&2; exit 2; fi
# The path is inside knowledge/, but people and models name it from the workspace as often ("knowledge/faq.md").
path=${path#./}
path=${path#knowledge/}
case "$path" in
  /*|*..*) echo "input.path must be relative to knowledge/ without '..'" >&2; exit 2 ;;
esac
file="$SWIFTLET_WORKSPACE/knowledge/$path"
if [ ! -f "$file" ]; then echo "no such file in knowledge/: $path" >&2; exit 3; fi
read -r lines words chars < <(wc -l -w -m < "$file")
echo "file: $path"
echo "lines: $lines"
echo "words: $words"
echo "characters: $chars"
echo "most frequent words:"
tr -cs '[:alpha:]' '\n' < "$file" | tr '[:upper:]' '[:lower:]' | awk 'length($0) > 3' | sort | uniq -c | sort -k1,1nr -k2 | head -n "$top" |
  while read -r count word; do echo "  $word $count"; done
