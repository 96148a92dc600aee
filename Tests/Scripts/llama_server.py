"""Starts and stops a real llama.cpp OpenAI-compatible server (llama-cpp-python) on loopback for tests.

    PY=.build/test-python/bin/python
    $PY Tests/Scripts/llama_server.py start --pidfile DIR/llama.pid [--port 0] [--model DIR/tiny.gguf]
        [--chat-format gguf|chatml|chatml-function-calling] [--n-ctx 512] [--interrupt-requests true|false]
        [--log DIR/llama.log] [--timeout 120]
      -> prints the port (one line) once GET /v1/models answers 200, and exits 0 leaving the server running.
         The model file is written with make_tiny_gguf.py first when it does not exist.
         --port 0 (the default) picks a free loopback port.
    $PY Tests/Scripts/llama_server.py stop --pidfile DIR/llama.pid
      -> SIGTERM to the server's process group, SIGKILL after 5 s; removes the pid file. Idempotent.
    $PY Tests/Scripts/llama_server.py run [same options as start]
      -> like start, but stays in the foreground and stops the server on SIGTERM/SIGINT or when its own parent
         exits; the server also gets SIGKILL from the kernel if this process dies any other way
         (PR_SET_PDEATHSIG), so nothing outlives the test process that started it.

Run it with the interpreter of the venv that has llama-cpp-python (scripts/install-deps.sh --test prepares
.build/test-python); the server runs under the same interpreter. The server is bound to 127.0.0.1 only, with
n_ctx 512 (the model's context length; a larger --n-ctx works too), one thread, and the model name "tiny" (its
alias).

Chat formats: with the default "gguf" the server formats prompts with the model's own template (make_tiny_gguf.py:
ChatML that renders tools, tool calls and tool results); a forced tool_choice {"type": "function", ...} returns
tool_calls, "auto"/"required" return plain content, and seed, stop and logit_bias are honoured.
"chatml-function-calling" is the only format with an "auto" tool path, but it ignores seed and logit_bias, drops
role "tool" messages from the prompt, and answers tool_choice "required" with HTTP 500 (an empty 200 stream when
streaming).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_model(path):
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    subprocess.run([sys.executable, os.path.join(HERE, "make_tiny_gguf.py"), tmp], check=True)
    os.replace(tmp, path)


def die_with_parent():
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def models_answer(port, alias):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as response:
            return response.status == 200 and [m.get("id") for m in json.load(response)["data"]] == [alias]
    except Exception:
        return False


def start(args):
    ensure_model(args.model)
    # A free port picked here can be taken before the server binds it: then the server exits, and we try another.
    for attempt in range(1 if args.port else 3):
        port = args.port or free_port()
        result = launch(args, port)
        if result is not None:
            return result
    sys.exit(f"llama server exited before answering (log: {args.log})")


def launch(args, port):
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", args.model, "--model_alias", args.alias,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(args.n_ctx), "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
        "--interrupt_requests", str(args.interrupt_requests), "--verbose", str(args.verbose),
    ]
    if args.chat_format != "gguf":
        command += ["--chat_format", args.chat_format]
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL
    # A session of its own: stop() signals the whole group, and a test runner's Ctrl-C does not reach it.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                               preexec_fn=die_with_parent if args.action == "run" else None)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{process.pid}\n")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if models_answer(port, args.alias):
            return process, port
        time.sleep(0.1)
    kill_group(process.pid)
    sys.exit(f"llama server did not answer /v1/models within {args.timeout} s (log: {args.log})")


def kill_group(pid, grace=5.0):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
            if reaped == pid:
                break
        except ChildProcessError:  # not our child: poll for existence instead
            if not alive(pid):
                break
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def alive(pid):
    """True while the process exists and is not a zombie waiting for its reaper."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def stop(args):
    try:
        with open(args.pidfile) as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return
    kill_group(pid)
    os.remove(args.pidfile)


def parse_bool(text):
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text}")


def main():
    # A launcher started by a multi-threaded test process inherits the signal mask of the thread that spawned it,
    # with SIGTERM and SIGINT blocked (seen with Foundation's Process under swift test): unblock them, for this
    # process and for the server it starts, or neither could be stopped politely.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "run"])
    parser.add_argument("--pidfile")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default=os.path.join(".build", "test-models", "tiny.gguf"))
    parser.add_argument("--alias", default="tiny")
    parser.add_argument("--chat-format", default="gguf",
                        help="a llama-cpp-python --chat_format (chatml, chatml-function-calling, ...); 'gguf' (the "
                             "default) passes none, so the model's own chat template is used")
    parser.add_argument("--interrupt-requests", type=parse_bool, default=True,
                        help="the server's default (true): a request arriving while a stream runs ends that stream early")
    parser.add_argument("--verbose", type=parse_bool, default=True, help="llama.cpp's log lines in --log (default true)")
    parser.add_argument("--n-ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    if args.action == "stop":
        if not args.pidfile:
            parser.error("stop needs --pidfile")
        stop(args)
        return
    if args.action == "start" and not args.pidfile:
        parser.error("start needs --pidfile (stop uses it)")

    process, port = start(args)
    print(port, flush=True)
    if args.action == "start":
        return

    def finish(*_):
        kill_group(process.pid)
        if args.pidfile and os.path.exists(args.pidfile):
            os.remove(args.pidfile)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    # A test process that dies without stopping us (a crash, SIGKILL) must not leave the server behind: when this
    # launcher is re-parented, its parent is gone.
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        kill_group(process.pid)
        if args.pidfile and os.path.exists(args.pidfile):
            os.remove(args.pidfile)
        os._exit(0)

    import threading
    threading.Thread(target=watch_parent, daemon=True).start()
    process.wait()
    sys.exit(f"llama server exited with status {process.returncode}")


if __name__ == "__main__":
    main()
