import Foundation

/// The web chat's HTML and script, compiled into the binary so the gateway is one file to deploy.
enum WebChatPage {
    private static let style = """
        <style>
        :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
        body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
        header { padding: .6rem 1rem; border-bottom: 1px solid #8884; display: flex; gap: 1rem; align-items: baseline; }
        header h1 { font-size: 1.1rem; margin: 0; }
        #status { font-size: .85rem; opacity: .75; }
        #log { flex: 1; overflow-y: auto; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
        .msg { max-width: 70ch; padding: .5rem .75rem; border-radius: .6rem; white-space: pre-wrap; word-wrap: break-word; }
        .user { align-self: flex-end; background: #2b6cb033; }
        .assistant { align-self: flex-start; background: #8882; }
        .error { align-self: center; color: #c53030; font-size: .9rem; }
        .meta { display: block; font-size: .7rem; opacity: .6; margin-top: .2rem; }
        form { display: flex; gap: .5rem; padding: .75rem 1rem; border-top: 1px solid #8884; }
        textarea { flex: 1; resize: none; font: inherit; padding: .5rem; }
        button { font: inherit; padding: .5rem 1rem; }
        main.center { max-width: 40rem; margin: 4rem auto; padding: 0 1rem; }
        code { background: #8882; padding: 0 .25rem; }
        .meta.id { font-family: ui-monospace, monospace; user-select: all; }
        </style>
        """

    static let chat = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>swiftlet</title>\(style)</head>
        <body>
        <header><h1>swiftlet</h1><span id="status">connecting…</span></header>
        <div id="log" aria-live="polite"></div>
        <form id="composer"><textarea id="input" rows="2" placeholder="Message (Enter to send, Shift+Enter for a new line)" required></textarea><button id="send" type="submit">Send</button></form>
        <script src="/assets/chat.js"></script>
        </body></html>
        """

    static func login(error: String?) -> String {
        let problem = error.map { "<p class=\"error\">\(escape($0))</p>" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>swiftlet: sign in</title>\(style)</head>
            <body><main class="center">
            <h1>swiftlet</h1>\(problem)
            <p>This gateway requires a control token. On the gateway's machine run
            <code>swiftlet dashboard --token-gen</code> and open the URL it prints, or paste a token here.</p>
            <form method="get" action="/"><input name="token" type="password" autocomplete="off" placeholder="token" required> <button type="submit">Open</button></form>
            </main></body></html>
            """
    }

    static func message(title: String, text: String) -> String {
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escape(title))</title>\(style)</head><body><main class=\"center\"><h1>\(escape(title))</h1><p>\(escape(text))</p></main></body></html>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Speaks ControlProtocol v1 over /ws; the session cookie authenticates the upgrade.
    static let script = """
        "use strict";
        (() => {
          if (location.search.includes("token=")) history.replaceState(null, "", "/");
          const log = document.getElementById("log"), input = document.getElementById("input");
          const statusEl = document.getElementById("status"), form = document.getElementById("composer");
          let session = localStorage.getItem("swiftlet.session");
          if (!session) { session = "web-" + crypto.randomUUID(); localStorage.setItem("swiftlet.session", session); }
          let socket, nextId = 1, lastSeq = 0, retry = 500;
          const pending = new Map(), drafts = new Map(), shown = new Set();
          // Every message shows the id `swiftlet trace <id>` takes: the user message's id, which its reply carries too.
          const traceId = (messageId) => (messageId || "").split(":")[0];
          const tag = (div, id) => {
            if (!id) return;
            const t = document.createElement("span"); t.className = "meta id"; t.textContent = id; t.title = "swiftlet trace " + id;
            div.appendChild(t);
          };
          const show = (role, text, meta, id) => {
            const div = document.createElement("div");
            div.className = "msg " + role;
            div.appendChild(document.createTextNode(text));
            if (meta) { const m = document.createElement("span"); m.className = "meta"; m.textContent = meta; div.appendChild(m); }
            tag(div, id);
            log.appendChild(div); log.scrollTop = log.scrollHeight;
            return div;
          };
          // Streamed text is a draft per message; a retraction (failover) clears it, the final reply replaces it.
          const draft = (inReplyTo) => {
            let d = drafts.get(inReplyTo);
            if (!d) { d = show("assistant draft", "", "writing…"); drafts.set(inReplyTo, d); }
            return d;
          };
          const settle = (inReplyTo, role, text, meta) => {
            const d = drafts.get(inReplyTo); drafts.delete(inReplyTo);
            if (d) d.remove();
            show(role, text, meta, inReplyTo);
          };
          const request = (method, params) => new Promise((resolve, reject) => {
            const id = "c" + (nextId++);
            pending.set(id, { resolve, reject });
            socket.send(JSON.stringify({ v: 1, type: "req", id, method, params }));
          });
          const connect = () => {
            const scheme = location.protocol === "https:" ? "wss" : "ws";
            socket = new WebSocket(`${scheme}://${location.host}/ws?session=${encodeURIComponent(session)}`);
            socket.onopen = () => { retry = 500; };
            socket.onmessage = async (event) => {
              const frame = JSON.parse(event.data);
              if (frame.type === "res") {
                const waiter = pending.get(frame.id); pending.delete(frame.id);
                if (frame.ok) waiter?.resolve(frame.result);
                else { show("error", `${frame.error.code}: ${frame.error.message}`); waiter?.reject(frame.error); }
              } else if (frame.type === "event") {
                if (frame.seq !== lastSeq + 1 && lastSeq !== 0) show("error", "some events were missed; reloading history");
                lastSeq = frame.seq;
                if (frame.event === "hello") {
                  const models = frame.data.models.length ? frame.data.models.join(", ") : "no model configured";
                  statusEl.textContent = `connected · ${frame.data.server} · ${frame.data.agent} · ${models}`;
                  log.replaceChildren(); drafts.clear(); shown.clear();
                  const history = await request("chat.history", {});
                  for (const m of history.messages) { if (m.role !== "tool") show(m.role, m.text, m.pending ? m.author + " · waiting" : m.author, traceId(m.message_id)); shown.add(m.message_id); }
                } else if (frame.event === "chat.delta") {
                  const d = draft(frame.data.in_reply_to);
                  if (d.dataset.attempt !== String(frame.data.attempt)) { d.firstChild.textContent = ""; d.dataset.attempt = String(frame.data.attempt); }
                  d.firstChild.textContent += frame.data.text; log.scrollTop = log.scrollHeight;
                } else if (frame.event === "chat.retract") {
                  const d = drafts.get(frame.data.in_reply_to); if (d) d.firstChild.textContent = "";
                } else if (frame.event === "chat.message") {
                  if (shown.has(frame.data.message_id)) return;
                  shown.add(frame.data.message_id);
                  settle(frame.data.in_reply_to, "assistant", frame.data.text, frame.data.model || "gateway");
                } else if (frame.event === "chat.error") {
                  settle(frame.data.in_reply_to, "error", frame.data.message, frame.data.code);
                }
              }
            };
            socket.onclose = (event) => {
              statusEl.textContent = event.code === 1008 || event.code === 1006 && retry > 8000 ? "disconnected: reload the page or sign in again" : "reconnecting…";
              for (const waiter of pending.values()) waiter.reject({ code: "disconnected" });
              pending.clear(); lastSeq = 0;
              setTimeout(connect, retry); retry = Math.min(retry * 2, 15000);
            };
          };
          form.addEventListener("submit", async (event) => {
            event.preventDefault();
            const text = input.value.trim();
            if (!text || socket.readyState !== WebSocket.OPEN) return;
            input.value = "";
            const div = show("user", text, "you");
            try { tag(div, (await request("chat.send", { text, client_id: crypto.randomUUID() })).message_id); } catch (_) { input.value = text; }
          });
          input.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
          });
          connect();
        })();
        """
}
