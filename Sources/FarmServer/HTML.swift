import Foundation

/// Server-rendered HTML: every text from the database or a request goes through `escape`, everywhere.
enum HTML {
    /// `s` with `& < > " '` replaced by entities: safe in element content and in quoted attributes.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A whole page: navigation, the token box, the live region (reloaded every 2 s from `?fragment=1`).
    static func page(title: String, body: String, live: Bool = true) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · sdfarm</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>\(style)</style></head>
        <body>
        <header><a class="brand" href="/">sdfarm</a> <a href="/">Overview</a> <a href="/batches">Batches</a>
        <a href="/jobs">Jobs</a> <a href="/workers">Workers</a>
        <span class="token"><input id="token" type="password" placeholder="API token" autocomplete="off" size="20">
        <button id="save-token" type="button">Save token</button> <span id="token-state"></span></span></header>
        <main><h1>\(escape(title))</h1><div id="message" role="status"></div>
        <div id="live"\(live ? " data-live" : "")>\(body)</div></main>
        <script>\(script)</script>
        </body></html>
        """
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
        header{background:#223;color:#eee;padding:8px 16px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
        header a{color:#cde;text-decoration:none}.brand{font-weight:bold;color:#fff}.token{margin-left:auto}
        main{padding:8px 16px}table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
        .bar{display:inline-block;width:160px;height:10px;background:#ddd;vertical-align:middle}.bar>span{display:block;height:100%;background:#4a8}
        .cards{display:flex;gap:10px;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;padding:8px 12px;min-width:130px}
        .card b{display:block;font-size:20px}.sheet td{width:96px;height:96px;text-align:center;font-size:12px}
        .sheet img{width:96px;height:96px;image-rendering:pixelated;display:block}
        .state-failed{background:#fdd}.state-running{background:#ffd}.state-cancelled{background:#eee;color:#888}.state-queued{color:#888}
        .err{color:#a00;white-space:pre-wrap;font-size:11px}#message{color:#a00;min-height:1.2em}
        code,pre{background:#fff;border:1px solid #ddd;padding:4px;white-space:pre-wrap;word-break:break-all}
        button{cursor:pointer}
        """

    /// The page's JavaScript: the token (kept in localStorage, sent as a bearer header on actions and as a
    /// SameSite=Strict cookie for pages), the action buttons (POST with the token), and the live reload.
    static let script = """
        const tokenBox=document.getElementById('token'),state=document.getElementById('token-state'),msg=document.getElementById('message');
        function token(){return localStorage.getItem('sdfarm_token')||''}
        function showToken(){state.textContent=token()?'token saved':'no token: actions need it'}
        document.getElementById('save-token').addEventListener('click',()=>{localStorage.setItem('sdfarm_token',tokenBox.value.trim());
          document.cookie='sdfarm_token='+encodeURIComponent(tokenBox.value.trim())+'; SameSite=Strict; path=/';tokenBox.value='';showToken()});
        showToken();
        async function refresh(){const live=document.getElementById('live');if(!live.hasAttribute('data-live'))return;
          const u=new URL(location.href);u.searchParams.set('fragment','1');
          try{const r=await fetch(u,{credentials:'same-origin'});if(r.ok){live.innerHTML=await r.text()}}catch(e){}}
        document.addEventListener('click',async(e)=>{const b=e.target.closest('button[data-action]');if(!b)return;
          if(b.dataset.confirm&&!confirm(b.dataset.confirm))return;
          const body=b.dataset.body||'{}';
          const r=await fetch(b.dataset.action,{method:'POST',headers:{'Authorization':'Bearer '+token(),'Content-Type':'application/json'},body});
          const t=await r.text();msg.textContent=r.ok?'':(r.status+': '+t);await refresh()});
        setInterval(refresh,2000);
        """

    /// A progress bar.
    static func bar(_ done: Int, _ total: Int) -> String {
        let pct = total > 0 ? Double(done) / Double(total) * 100 : 0
        return "<span class=\"bar\"><span style=\"width:\(String(format: "%.1f", pct))%\"></span></span>"
    }

    /// An action button: POSTs to `path` with the token.
    static func action(_ label: String, _ path: String, id: String, confirm: String? = nil) -> String {
        "<button type=\"button\" id=\"\(escape(id))\" data-action=\"\(escape(path))\"\(confirm.map { " data-confirm=\"\(escape($0))\"" } ?? "")>\(escape(label))</button>"
    }

    /// `12s`, `3m4s`, `2h5m`; `unknown` for nil.
    static func duration(_ seconds: Double?) -> String {
        guard let s = seconds, s.isFinite else { return "unknown" }
        if s < 60 { return "\(Int(s.rounded()))s" }
        if s < 3600 { return "\(Int(s) / 60)m\(Int(s) % 60)s" }
        return "\(Int(s) / 3600)h\(Int(s) % 3600 / 60)m"
    }
}
