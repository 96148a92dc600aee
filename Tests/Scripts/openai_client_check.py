"""Drives swiftlet's OpenAI-compatible API with the official `openai` package, unchanged.

Run by Tests/RuntimeTests/OpenAIPackageTests.swift with BASE_URL and TOKEN set; prints one JSON object
with what it saw, which the Swift test checks.
"""
import json
import os

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["BASE_URL"], api_key=os.environ["TOKEN"], max_retries=0)
seen = {"openai_version": openai.__version__}

seen["models"] = [model.id for model in client.models.list()]

reply = client.chat.completions.create(model="swiftlet", messages=[{"role": "user", "content": "hello from python"}])
seen["agent"] = {
    "object": reply.object,
    "model": reply.model,
    "content": reply.choices[0].message.content,
    "finish_reason": reply.choices[0].finish_reason,
    "total_tokens": reply.usage.total_tokens,
}

stream = client.chat.completions.create(
    model="fake/m1",
    messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "stream this please"}],
    stream=True,
    stream_options={"include_usage": True},
)
pieces, finish, usage, chunks = [], None, None, 0
for chunk in stream:
    chunks += 1
    if chunk.usage is not None:
        usage = chunk.usage.total_tokens
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
seen["stream"] = {"text": "".join(pieces), "finish_reason": finish, "usage": usage, "chunks": chunks}

tools = [{"type": "function", "function": {"name": "lookup", "description": "look up", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
called = client.chat.completions.create(model="fake/m2", messages=[{"role": "user", "content": "find swift"}], tools=tools)
call = called.choices[0].message.tool_calls[0]
seen["tool_call"] = {"name": call.function.name, "arguments": json.loads(call.function.arguments), "finish_reason": called.choices[0].finish_reason}

try:
    client.chat.completions.create(model="nowhere/x", messages=[{"role": "user", "content": "hi"}])
    seen["unknown_model"] = "no error"
except openai.NotFoundError as error:
    seen["unknown_model"] = error.status_code

try:
    OpenAI(base_url=os.environ["BASE_URL"], api_key="not-a-token", max_retries=0).models.list()
    seen["bad_key"] = "no error"
except openai.AuthenticationError as error:
    seen["bad_key"] = error.status_code

print(json.dumps(seen))
