import FakePlatforms
import PluginAPI
import Testing

/// `ChannelText.render` and `ChannelText.chunks(_:limit:as:)`: the Markdown a model writes, in each platform's markup.
/// (Slack and WhatsApp output is also checked through their plugins in SlackChannelTests and WhatsAppChannelTests.)
@Suite struct ChannelMarkupTests {
    @Test(
        "Telegram MarkdownV2: entities mapped, every reserved character escaped, code escaped only for ` and \\",
        arguments: [
            ("**bold** and *it* and ~~gone~~", "*bold* and _it_ and ~gone~"),
            ("Total: 3.5 (approx.) - done!", "Total: 3\\.5 \\(approx\\.\\) \\- done\\!"),
            ("snake_case_name and user_id", "snake\\_case\\_name and user\\_id"),
            ("`a_b *c* \\d`", "`a_b *c* \\\\d`"),
            ("```swift\nlet x = a.b(`c`)\n```", "```swift\nlet x = a.b(\\`c\\`)\n```"),
            ("see [the docs](https://x.dev/a_b?q=1)", "see [the docs](https://x.dev/a_b?q=1)"),
            ("[relative](docs/a.md)", "\\[relative\\]\\(docs/a\\.md\\)"),
            ("# Title #\n- one\n> quoted *x*", "*Title*\n• one\n>quoted _x_"),
            ("2 * 3 = 6", "2 \\* 3 \\= 6"),
            ("an `unclosed code span", "an \\`unclosed code span"),
        ])
    func markdownV2(markdown: String, expected: String) {
        let rendered = ChannelText.render(markdown, as: .markdownV2)
        #expect(rendered == expected)
        #expect(FakeTelegram.checkMarkdownV2(rendered) == nil, "Telegram would refuse: \(rendered)")
    }

    @Test("whatever the model writes, the MarkdownV2 Telegram receives parses")
    func markdownV2AlwaysParses() {
        let samples = [
            "**unclosed bold", "*a **b* c**", "_a_b_ and __c__d", "~~a ~b~~", "[a](https://x.dev", "[](https://x.dev)", "a ` b `` c ``` d",
            "```\nno end", "> a\n>> b\n>", "*", "**", "_", "~~", "\\", "\\*", "1. a\n2) b", "x => y | z {}", "## ", "---", "***bold italic***",
            "a\n```python\nprint('```')\n```\nb", "<@U1> <b>html</b> & co",
        ]
        for sample in samples {
            let rendered = ChannelText.render(sample, as: .markdownV2)
            #expect(FakeTelegram.checkMarkdownV2(rendered) == nil, "\(sample.debugDescription) → \(rendered.debugDescription)")
        }
    }

    @Test(
        "HTML: tags for entities, &, <, > and \" escaped everywhere, links as <a href>",
        arguments: [
            ("**b** *i* ~~s~~ `c<d>`", "<b>b</b> <i>i</i> <s>s</s> <code>c&lt;d&gt;</code>"),
            ("a < b & \"c\"", "a &lt; b &amp; &quot;c&quot;"),
            ("[x](https://y.dev/?a=1&b=\"2\")", "<a href=\"https://y.dev/?a=1&amp;b=&quot;2&quot;\">x</a>"),
            ("```js\nif (a < b) {}\n```", "<pre><code class=\"language-js\">\nif (a &lt; b) {}\n</code></pre>"),
            ("## Head", "<b>Head</b>"),
        ])
    func html(markdown: String, expected: String) {
        #expect(ChannelText.render(markdown, as: .html) == expected)
    }

    @Test("plain and markdown dialects pass the text through")
    func passThrough() {
        let text = "**a** <b> & [c](https://d.dev)"
        #expect(ChannelText.render(text, as: .plain) == text)
        #expect(ChannelText.render(text, as: .markdown) == text)
    }

    @Test("a fence left open (a cut-off answer, or a part cut from a longer one) is closed")
    func unclosedFence() {
        #expect(ChannelText.render("```\nlet a = 1", as: .mrkdwn) == "```\nlet a = 1\n```")
        #expect(ChannelText.render("text\n```py\nx", as: .markdownV2) == "text\n```py\nx\n```")
        #expect(ChannelText.render("```not a tag\nx\n```", as: .whatsApp) == "```\nnot a tag\nx\n```")
    }

    @Test("parts are sized by their rendered weight, so escaping never pushes a part over the limit")
    func chunksByDialect() {
        let text = Array(repeating: "a.b", count: 3000).joined(separator: " ")
        for (dialect, limit) in [(MarkupDialect.markdownV2, 4096), (.mrkdwn, 4000), (.whatsApp, 4096), (.html, 4096)] {
            let parts = ChannelText.chunks(text, limit: limit, as: dialect)
            #expect(parts.count > 1)
            #expect(parts.map { ChannelText.render($0, as: dialect).utf16.count }.max()! <= limit, "\(dialect)")
            let rejoined = parts.joined(separator: " ") == text
            #expect(rejoined, "\(dialect): \(parts.map(\.count))")
        }
        let escaped = String(repeating: "<&>", count: 2000)
        let slack = ChannelText.chunks(escaped, limit: 4000, as: .mrkdwn)
        #expect(slack.count > 1)
        #expect(slack.map { ChannelText.render($0, as: .mrkdwn).utf16.count }.max()! <= 4000)
        let rejoined = slack.joined() == escaped
        #expect(rejoined, "\(slack.map(\.count))")
        #expect(ChannelText.chunks(escaped, limit: 6000, as: .whatsApp).count == 1)
    }
}
