"""Drives swiftlet's OpenAI-compatible API with the official `openai` package against a real llama.cpp server.

Run by Tests/RuntimeTests/LlamaServerTests.swift with BASE_URL, TOKEN and MODEL (a provider/model ref of the llama
server) set; prints one JSON object with what it saw. The model's weights are random: only shapes, finish reasons
and token counts are reported, never words.
"""
import json
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["BASE_URL"], api_key=os.environ["TOKEN"], max_retries=0)
model = os.environ["MODEL"]
seen = {}

whole = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}], max_tokens=12, temperature=0, seed=7)
seen["whole"] = {
    "object": whole.object,
    "content_is_str": isinstance(whole.choices[0].message.content, str),
    "finish_reason": whole.choices[0].finish_reason,
    "completion_tokens": whole.usage.completion_tokens,
}

stream = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "stream"}], max_tokens=12, stream=True, stream_options={"include_usage": True}
)
chunks, finish, usage = 0, None, None
for chunk in stream:
    chunks += 1
    if chunk.usage is not None:
        usage = chunk.usage.prompt_tokens
    for choice in chunk.choices:
        if choice.finish_reason:
            finish = choice.finish_reason
seen["stream"] = {"chunks": chunks, "finish_reason": finish, "prompt_tokens": usage}

# A caller-driven tool round trip: the caller's tool is forced, its call comes back, the caller runs it and sends
# the result with the assistant turn as the client library writes it (content None beside tool_calls).
tools = [{"type": "function", "function": {"name": "get_time", "description": "The current time.", "parameters": {"type": "object", "properties": {}}}}]
messages = [{"role": "user", "content": "what time is it?"}]
called = client.chat.completions.create(
    model=model, messages=messages, tools=tools, tool_choice={"type": "function", "function": {"name": "get_time"}}, max_tokens=16
)
call = called.choices[0].message.tool_calls[0]
seen["tool_call"] = {"name": call.function.name, "arguments": json.loads(call.function.arguments), "finish_reason": called.choices[0].finish_reason}
messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
messages.append({"role": "tool", "tool_call_id": call.id, "content": "12:00"})
answered = client.chat.completions.create(model=model, messages=messages, tools=tools, max_tokens=12)
seen["after_tool"] = {"finish_reason": answered.choices[0].finish_reason, "content_is_str": isinstance(answered.choices[0].message.content, str)}

try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "abc " * 2000}], max_tokens=8)
    seen["too_long"] = "no error"
except Exception as error:  # openai.BadRequestError carries the status and the error code
    seen["too_long"] = {"status": getattr(error, "status_code", None), "code": (getattr(error, "body", None) or {}).get("code")}

print(json.dumps(seen))
