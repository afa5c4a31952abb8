"""The opening-hall page's own style (screen and print) and script; see :mod:`bidcrypt.remote.hall`."""
# ruff: noqa: E501

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
:root { color-scheme: light; --ink: #1a1a1a; --muted: #5a5a5a; --line: #c8c8c8; --ok: #116b2d;
        --bad: #a31515; --wait: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif;
       color: var(--ink); background: #f6f6f4; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0.5rem 1.5rem; }
header { border-bottom: 3px solid #8b0000; }
h1 { margin: 0.5rem 0 0; font-size: 1.8rem; }
h2 { font-size: 1.2rem; margin: 1.2rem 0 0.4rem; }
#decisions { font-weight: 600; }
#countdown { font: 700 3.2rem/1.1 ui-monospace, "DejaVu Sans Mono", monospace; margin: 0.3rem 0; }
#clock, #tender, #live, #window-state { color: var(--muted); margin: 0.2rem 0; }
table { width: 100%; border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border: 1px solid var(--line); vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #ecebe6; white-space: nowrap; }
.opened { color: var(--ok); font-weight: 600; }
.failed, .not-decrypted, .rejected { color: var(--bad); font-weight: 600; }
.pending { color: var(--wait); }
.paused #countdown { color: var(--wait); }
.closed #countdown { color: var(--muted); }
@media print {
  body { background: #fff; font-size: 11pt; }
  header, main, footer { max-width: none; padding: 0; }
  #live, noscript { display: none; }
  #countdown { font-size: 18pt; }
  table { page-break-inside: auto; }
  tr { page-break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var lang = JSON.parse(document.getElementById("lang").textContent);
  var WORDS = {
    zh: {tender: "项目", server: "服务器时间", window: "解密时间", notStarted: "解密尚未开始",
         running: "解密进行中", paused: "已暂停", closed: "解密已结束", remaining: "剩余时间",
         pause: "暂停", resumed: "恢复", reason: "原因", shares: "开标委员会：已释放 {k}/{n} 份（需 {q} 份）",
         bidders: "投标人签到与解密状态", bidder: "投标人", code: "统一社会信用代码", signin: "签到",
         signedIn: "已签到", notSignedIn: "未签到", lot: "标段", decryption: "解密状态", cause: "原因",
         byRelease: "投标人解密", byBackup: "备用文件解密", byKey: "开标密钥解密", byCommittee: "开标委员会解密",
         record: "开标记录", price: "投标报价", duration: "工期", live: "实时更新", polling: "定时刷新",
         reconnecting: "连接中断，正在重试…", closedAt: "结束于", noBids: "无投标文件",
         status: {opened: "已解密", failed: "解密失败", "not-decrypted": "未解密", pending: "待解密",
                  withdrawn: "已撤回", rejected: "递交被拒"}},
    en: {tender: "Tender", server: "Server time", window: "Decryption window", notStarted: "not started yet",
         running: "running", paused: "paused", closed: "closed", remaining: "Remaining",
         pause: "Paused", resumed: "resumed", reason: "reason", shares: "Committee: {k} of {n} shares released (quorum {q})",
         bidders: "Bidders: sign-in and decryption", bidder: "Bidder", code: "Credit code", signin: "Sign-in",
         signedIn: "signed in", notSignedIn: "not signed in", lot: "Lot", decryption: "Decryption", cause: "Cause",
         byRelease: "released by the bidder", byBackup: "from the backup copy", byKey: "with the opening key",
         byCommittee: "by the committee", record: "Opening record", price: "Price", duration: "Duration",
         live: "live", polling: "polling", reconnecting: "connection lost, retrying…", closedAt: "closed at",
         noBids: "no bid", status: {opened: "opened", failed: "failed", "not-decrypted": "not decrypted",
         pending: "not yet opened", withdrawn: "withdrawn", rejected: "refused at submission"}}
  }[lang];
  var state = null, remainingAt = 0, receivedAt = 0, serverAt = 0;

  function byId(id) { return document.getElementById(id); }
  function say(id, text) { byId(id).textContent = text == null ? "" : String(text); }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }
  function head(table, names) {
    var thead = table.tHead;
    thead.textContent = "";
    var row = thead.insertRow();
    names.forEach(function (name) {
      var th = document.createElement("th");
      th.textContent = name;
      row.appendChild(th);
    });
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    return two(Math.floor(s / 3600)) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60);
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, key) { return String(values[key]); });
  }
  function how(bid) {
    var by = {release: WORDS.byRelease, backup: WORDS.byBackup, key: WORDS.byKey, committee: WORDS.byCommittee};
    var text = WORDS.status[bid.status] || bid.status;
    if (bid.status === "opened" && by[bid.opened_by]) {
      text += " (" + by[bid.opened_by] + (bid.released_at ? " " + bid.released_at : "") + ")";
    }
    return text;
  }
  function when(text) { return text ? String(text).replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }
  function cause(item) { return lang === "zh" ? (item.cause_zh || item.cause) : item.cause; }

  function draw(s) {
    say("tender", WORDS.tender + ": " + s.tender + (s.lots.length ? " · " + WORDS.lot + " " + s.lots.join(", ") : ""));
    say("window-title", WORDS.window);
    var w = s.window;
    document.body.className = w.state;
    var words = {"not-started": WORDS.notStarted, running: WORDS.running, paused: WORDS.paused, closed: WORDS.closed};
    say("window-state", (words[w.state] || w.state) + (w.closed_at ? " · " + WORDS.closedAt + " " + when(w.closed_at) : ""));
    var pauses = byId("pauses");
    clear(pauses);
    w.pauses.forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = WORDS.pause + " " + when(p.at) + (p.resumed_at ? " – " + WORDS.resumed + " " + when(p.resumed_at) +
        (p.resume_reason ? " (" + p.resume_reason + ")" : "") : "") +
        " · " + WORDS.reason + ": " + (p.reason || p.reason_code || "-");
      pauses.appendChild(li);
    });
    say("shares", s.shares ? fill(WORDS.shares, {k: s.shares.released, n: s.shares.members, q: s.shares.quorum}) : "");
    say("bidders-title", WORDS.bidders);
    var table = byId("bidders");
    head(table, [WORDS.bidder, WORDS.code, WORDS.signin, WORDS.lot, WORDS.decryption, WORDS.cause]);
    var body = table.tBodies[0];
    clear(body);
    s.bidders.forEach(function (b) {
      var bids = b.bids.length ? b.bids : [null];
      bids.forEach(function (bid) {
        var row = body.insertRow();
        cell(row, b.name);
        cell(row, b.credit_code);
        cell(row, b.signed_in_at ? WORDS.signedIn + " " + b.signed_in_at : WORDS.notSignedIn,
             b.signed_in_at ? "opened" : "pending");
        cell(row, bid ? bid.lot || "-" : "-");
        cell(row, bid ? how(bid) : WORDS.noBids, bid ? bid.status : "");
        cell(row, bid ? cause(bid) : "");
      });
    });
    var box = byId("record-box");
    if (s.record) {
      box.hidden = false;
      say("record-title", WORDS.record + " · " + WORDS.closedAt + " " + s.record.closed_at);
      var rec = byId("record");
      head(rec, [WORDS.lot, WORDS.bidder, WORDS.code, WORDS.decryption, WORDS.cause, WORDS.price, WORDS.duration]);
      var rbody = rec.tBodies[0];
      clear(rbody);
      s.record.rows.forEach(function (r) {
        var row = rbody.insertRow();
        cell(row, r.lot || "-");
        cell(row, r.bidder);
        cell(row, r.credit_code);
        cell(row, WORDS.status[r.status] || r.status, r.status);
        cell(row, cause(r));
        cell(row, r.price ? r.price + (r.currency ? " " + r.currency : "") : "");
        cell(row, r.duration);
      });
      [["decisions", s.record.decisions, s.record.decisions_zh], ["flags", s.record.flags, s.record.flags_zh]]
        .forEach(function (part) {
          var list = byId(part[0]);
          clear(list);
          (lang === "zh" ? part[2] : part[1]).forEach(function (text) {
            var li = document.createElement("li");
            li.textContent = text;
            list.appendChild(li);
          });
        });
    } else {
      box.hidden = true;
    }
  }

  function tick() {
    if (!state) { return; }
    var elapsed = (performance.now() - receivedAt) / 1000;
    var w = state.window, left = w.remaining;
    if (left != null && w.state === "running") { left = Math.max(0, remainingAt - elapsed); }
    say("countdown", left == null || w.state === "not-started" ? "--:--:--" : WORDS.remaining + " " + duration(left));
    say("clock", WORDS.server + ": " + new Date(serverAt + elapsed * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z");
  }

  function receive(s) {
    state = s;
    receivedAt = performance.now();
    remainingAt = s.window.remaining == null ? 0 : s.window.remaining;
    serverAt = s.now_epoch * 1000;
    draw(s);
    tick();
  }

  var polling = false;
  function poll() {
    polling = true;
    say("live", WORDS.polling);
    fetch("status", {cache: "no-store"}).then(function (r) { return r.json(); }).then(receive)
      .catch(function () { say("live", WORDS.reconnecting); })
      .then(function () { setTimeout(poll, 3000); });
  }
  function live() {
    if (!window.EventSource) { poll(); return; }
    var source = new EventSource("events");
    source.addEventListener("status", function (e) { receive(JSON.parse(e.data)); say("live", WORDS.live); });
    source.onerror = function () {
      if (source.readyState === 2 && !polling) { poll(); } else { say("live", WORDS.reconnecting); }
    };
  }

  receive(JSON.parse(byId("initial").textContent));
  setInterval(tick, 500);
  window.addEventListener("load", function () { setTimeout(live, 0); });
})();
"""
