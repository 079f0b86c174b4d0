// Tern's message-log page: signs in with a product token (session storage), searches
// GET /v1.0/messages, shows one message's attempts, and charts GET /v1.0/messages/funnel.
// Hand-written, no framework, no build step; every text from the API is set with textContent.
"use strict";

(function () {
  const TOKEN_KEY = "tern.productToken";
  const LIVE_MS = 5000;
  const PAGE = 50;
  const STAGES = ["accepted", "sent", "delivered", "read", "failed", "rejected"];
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const state = {
    query: {},        // the search the list and funnel show
    next: null,       // the log's cursor for "Load more"
    messages: [],     // the entries shown, by order
    openId: null,     // the message whose detail is open
    openerId: null,   // the button that opened it (focus returns there)
    timer: null,      // live refresh
    seq: 0,           // the latest refresh: an older one's answer is dropped
    funnel: null,     // the funnel shown (drawn again when the width changes)
  };

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // A request to the gateway's API with the product token. Resolves to the parsed JSON body;
  // rejects with an Error whose message says what the API answered.
  async function api(path, withToken) {
    const response = await fetch(path, {
      headers: { "X-CM-PRODUCTTOKEN": withToken || token() || "", Accept: "application/json" },
      cache: "no-store",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const details = body && body.details ? body.details : response.statusText;
      const error = new Error(details);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function refusal(error) {
    if (error.status === 401 || error.status === 403) {
      return "The product token was refused (HTTP " + error.status + "): " + error.message;
    }
    if (error.status) {
      return "The gateway answered HTTP " + error.status + ": " + error.message;
    }
    return "The gateway could not be reached: " + error.message;
  }

  function show(element, visible) {
    element.hidden = !visible;
  }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function when(rfc3339) {
    if (!rfc3339) return "";
    const date = new Date(rfc3339);
    if (isNaN(date)) return rfc3339;
    return date.toLocaleString(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  // A datetime-local value (local time) as RFC 3339 UTC, or "" when empty or invalid.
  function toRfc3339(local) {
    if (!local) return "";
    const date = new Date(local);
    return isNaN(date) ? "" : date.toISOString();
  }

  // ---- Sign in / out ----

  async function signIn(event) {
    event.preventDefault();
    const input = $("token");
    const given = input.value.trim();
    const error = $("sign-in-error");
    if (!given) {
      error.textContent = "Enter a product token.";
      show(error, true);
      input.focus();
      return;
    }
    $("sign-in").disabled = true;
    try {
      await api("/v1.0/messages?limit=1", given);
      sessionStorage.setItem(TOKEN_KEY, given);
      input.value = "";
      show(error, false);
      enterLog();
    } catch (failure) {
      error.textContent = refusal(failure);
      show(error, true);
      input.focus();
      input.select();
    } finally {
      $("sign-in").disabled = false;
    }
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    setLive(false);
    $("live").checked = false;
    state.messages = [];
    state.openId = null;
    $("message-rows").replaceChildren();
    $("funnel-rows").replaceChildren();
    $("funnel-chart").replaceChildren();
    show($("detail"), false);
    show($("log-view"), false);
    show($("sign-out"), false);
    show($("sign-in-view"), true);
    $("token").focus();
  }

  function enterLog() {
    show($("sign-in-view"), false);
    show($("log-view"), true);
    show($("sign-out"), true);
    search(null);
    $("f-reference").focus();
  }

  // ---- Search and list ----

  function readQuery() {
    const query = {};
    const reference = $("f-reference").value.trim();
    const to = $("f-to").value.trim();
    const status = $("f-status").value;
    const since = toRfc3339($("f-since").value);
    const until = toRfc3339($("f-until").value);
    if (reference) query.reference = reference;
    if (to) query.to = to;
    if (status) query.status = status;
    if (since) query.since = since;
    if (until) query.until = until;
    return query;
  }

  function queryString(parameters) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(parameters)) {
      if (value !== undefined && value !== null && value !== "") search.set(name, value);
    }
    const text = search.toString();
    return text ? "?" + text : "";
  }

  async function search(event) {
    if (event) {
      event.preventDefault();
      state.query = readQuery();
    }
    await refresh(false);
  }

  // Load the first page of the current search and its funnel (again, for live refresh).
  async function refresh(quiet) {
    const seq = ++state.seq;
    const error = $("log-error");
    try {
      const [page, funnel] = await Promise.all([
        api("/v1.0/messages" + queryString(Object.assign({ limit: PAGE }, state.query))),
        api("/v1.0/messages/funnel" + queryString({ since: state.query.since, until: state.query.until })),
      ]);
      if (seq !== state.seq) return;
      state.messages = page.messages;
      state.next = page.next;
      renderRows();
      renderFunnel(funnel);
      if (state.openId) {
        const open = state.messages.find((m) => m.messageId === state.openId);
        if (open) renderDetail(open);
      }
      show(error, false);
      const count = state.messages.length;
      $("status-line").textContent = (quiet ? "Refreshed at " + new Date().toLocaleTimeString() + ". " : "")
        + count + (count === 1 ? " message" : " messages") + (state.next ? " shown; more available." : ".");
    } catch (failure) {
      if (seq !== state.seq) return;
      error.textContent = refusal(failure);
      show(error, true);
      if (failure.status === 401 || failure.status === 403) setLive(false);
    }
  }

  async function loadMore() {
    if (!state.next) return;
    try {
      const page = await api("/v1.0/messages"
        + queryString(Object.assign({ limit: PAGE, after: state.next }, state.query)));
      const first = state.messages.length;
      state.messages = state.messages.concat(page.messages);
      state.next = page.next;
      renderRows();
      const button = $("message-rows").querySelectorAll("button.open")[first];
      if (button) button.focus();
    } catch (failure) {
      $("log-error").textContent = refusal(failure);
      show($("log-error"), true);
    }
  }

  function cell(label, text, className) {
    return el("td", { "data-label": label, text: text, className: className });
  }

  function renderRows() {
    const rows = state.messages.map((message) => {
      const inbound = message.direction === "mo";
      const id = message.messageId;
      const open = el("button", {
        type: "button",
        className: "open",
        id: "open-" + id,
        "data-message-id": id,
        "aria-label": "Open message " + (message.reference || id),
        text: "Open",
      });
      open.addEventListener("click", () => openDetail(id, open.id));
      const status = inbound ? "inbound" : message.status;
      return el("tr", { "data-message-id": id, className: id === state.openId ? "selected" : null }, [
        cell("Accepted", when(inbound ? message.receivedAt : message.acceptedAt)),
        cell("Reference", inbound ? "(inbound from " + message.from + ")" : message.reference || ""),
        cell("To", message.to),
        cell("Channel", message.channel || ""),
        el("td", { "data-label": "Status" }, [el("span", { className: "badge " + status, text: status })]),
        cell("Parts", String(message.parts)),
        el("td", { className: "open-cell" }, [open]),
      ]);
    });
    $("message-rows").replaceChildren(...rows);
    show($("no-messages"), rows.length === 0);
    show($("more"), Boolean(state.next));
  }

  // ---- Detail ----

  function openDetail(id, openerId) {
    const message = state.messages.find((m) => m.messageId === id);
    if (!message) return;
    state.openId = id;
    state.openerId = openerId;
    renderDetail(message);
    renderRows();
    show($("detail"), true);
    $("detail").scrollIntoView({ block: "start" });
    $("detail-title").focus();
  }

  function closeDetail() {
    state.openId = null;
    show($("detail"), false);
    renderRows();
    const opener = state.openerId && $(state.openerId);
    if (opener) opener.focus();
  }

  function summaryItem(term, value) {
    return [el("dt", { text: term }), el("dd", { text: value === null || value === undefined ? "" : String(value) })];
  }

  // The history split into attempts: consecutive status changes on one channel are one
  // attempt; a change of channel is a fallback. The channel the message is on now, with no
  // status yet, is a last attempt still under way.
  function attemptsOf(message) {
    const attempts = [];
    for (const change of message.history || []) {
      const last = attempts[attempts.length - 1];
      if (last && last.channel === change.channel) last.changes.push(change);
      else attempts.push({ channel: change.channel, changes: [change] });
    }
    const last = attempts[attempts.length - 1];
    if (message.channel && (!last || last.channel !== message.channel)
        && ["queued", "sent", "cancelled"].includes(message.status)) {
      attempts.push({ channel: message.channel, changes: [], pending: message.status });
    }
    return attempts;
  }

  function renderDetail(message) {
    const inbound = message.direction === "mo";
    $("detail-title").textContent = inbound
      ? "Inbound message from " + message.from
      : "Message " + (message.reference ? "“" + message.reference + "”" : message.messageId);
    const items = inbound
      ? [
          summaryItem("Message id", message.messageId),
          summaryItem("From", message.from),
          summaryItem("To", message.to),
          summaryItem("Channel", message.channel),
          summaryItem("Parts", message.parts),
          summaryItem("Received", when(message.receivedAt)),
          summaryItem("Text", message.text),
        ]
      : [
          summaryItem("Message id", message.messageId),
          summaryItem("Reference", message.reference),
          summaryItem("To", message.to),
          summaryItem("From", message.from),
          summaryItem("Status", message.status),
          summaryItem("Channel", message.channel),
          summaryItem("Allowed channels", (message.allowedChannels || []).join(" → ")),
          summaryItem("Parts", message.parts),
          summaryItem("Submitted over", message.source),
          summaryItem("Accepted", when(message.acceptedAt)),
          summaryItem("Valid until", when(message.validUntil)),
          summaryItem(message.bodyEncoding === "hex" ? "Body (hex)" : "Body", message.body),
        ];
    $("detail-summary").replaceChildren(...items.flat());

    const attempts = inbound ? [] : attemptsOf(message);
    const blocks = attempts.map((attempt, index) => {
      const title = "Attempt " + (index + 1) + " · " + attempt.channel
        + (index > 0 ? " (fallback)" : "");
      const rows = attempt.changes.map((change) => el("tr", {}, [
        cell("Time", when(change.at)),
        cell("Status", change.status + " " + change.statusDescription),
        cell("Error", change.errorCode === null || change.errorCode === undefined ? "" : String(change.errorCode)),
        cell("Operator", change.operator || ""),
      ]));
      const body = attempt.changes.length
        ? el("table", { className: "history" }, [
            el("thead", {}, [el("tr", {}, ["Time", "Status", "Error", "Operator"].map((h) => el("th", { scope: "col", text: h })))]),
            el("tbody", {}, rows),
          ])
        : el("p", { className: "hint", text: "No status yet (" + attempt.pending + ")." });
      return el("section", { className: "attempt", "data-channel": attempt.channel, "aria-label": title }, [
        el("h4", { text: title }),
        body,
      ]);
    });
    if (!blocks.length) {
      blocks.push(el("p", { className: "hint", text: inbound ? "An inbound message has no attempts." : "Not tried yet." }));
    }
    $("detail-attempts").replaceChildren(...blocks);

    const sends = message.sends || [];
    $("detail-sends").replaceChildren(sends.length
      ? el("table", { className: "history" }, [
          el("thead", {}, [el("tr", {}, ["Attempt", "Connector", "Channel ids"].map((h) => el("th", { scope: "col", text: h })))]),
          el("tbody", {}, sends.map((send) => el("tr", {}, [
            cell("Attempt", String(send.attempt)),
            cell("Connector", send.connector),
            cell("Channel ids", (send.externalIds || []).join(", ")),
          ]))),
        ])
      : el("p", { className: "hint", text: "No channel has taken it yet." }));
  }

  // ---- Funnel ----

  function renderFunnel(funnel) {
    state.funnel = funnel;
    const range = funnel.since || funnel.until
      ? "Messages accepted " + (funnel.since ? "from " + when(funnel.since) : "")
        + (funnel.since && funnel.until ? " " : "") + (funnel.until ? "until " + when(funnel.until) : "")
      : "All messages";
    $("funnel-range").textContent = range + ": " + funnel.messages + " in total.";

    $("funnel-rows").replaceChildren(...funnel.channels.map((channel) => el("tr", { "data-channel": channel.channel }, [
      el("th", { scope: "row", text: channel.channel }),
      ...STAGES.map((stage) => el("td", {
        "data-label": stage[0].toUpperCase() + stage.slice(1),
        "data-stage": stage,
        text: String(channel[stage]),
      })),
    ])));

    // One group of bars per channel, bar length relative to the channel's accepted count.
    const barHeight = 18;
    const gap = 4;
    const labelWidth = 86;
    // Drawn at the width it is shown at, so that its text keeps its size on a narrow screen.
    const width = Math.max(280, Math.min(640, $("funnel-chart").clientWidth || 520));
    const groupHeight = 24 + STAGES.length * (barHeight + gap);
    const height = Math.max(40, funnel.channels.length * groupHeight);
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-labelledby": "funnel-chart-title",
      class: "funnel-svg",
    });
    chart.append(svg("title", { id: "funnel-chart-title" }, "Delivery funnel per channel"));
    if (!funnel.channels.length) {
      chart.append(svg("text", { x: 0, y: 24, class: "empty" }, "No messages in this range."));
    }
    funnel.channels.forEach((channel, group) => {
      const top = group * groupHeight;
      chart.append(svg("text", { x: 0, y: top + 16, class: "channel" }, channel.channel));
      const most = Math.max(1, channel.accepted);
      STAGES.forEach((stage, index) => {
        const y = top + 24 + index * (barHeight + gap);
        const length = Math.round((width - labelWidth - 50) * channel[stage] / most);
        chart.append(svg("text", { x: 0, y: y + barHeight - 5, class: "stage" }, stage));
        chart.append(svg("rect", {
          x: labelWidth, y: y, width: Math.max(length, channel[stage] ? 2 : 0), height: barHeight,
          rx: 3, class: "bar " + stage,
        }));
        chart.append(svg("text", { x: labelWidth + length + 6, y: y + barHeight - 5, class: "count" }, String(channel[stage])));
      });
    });
    $("funnel-chart").replaceChildren(chart);
  }

  // ---- Live refresh ----

  function setLive(on) {
    if (state.timer) {
      clearInterval(state.timer);
      state.timer = null;
    }
    if (on) state.timer = setInterval(() => refresh(true), LIVE_MS);
  }

  // ---- Wiring ----

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("search-form").addEventListener("submit", search);
    $("search-form").addEventListener("reset", () => {
      // Clearing the filters leaves live refresh as it was.
      setTimeout(() => {
        $("live").checked = Boolean(state.timer);
        state.query = {};
        refresh(false);
      }, 0);
    });
    $("more").addEventListener("click", loadMore);
    $("close-detail").addEventListener("click", closeDetail);
    $("live").addEventListener("change", (event) => {
      setLive(event.target.checked);
      $("status-line").textContent = event.target.checked ? "Live refresh on." : "Live refresh off.";
    });
    let lastWidth = window.innerWidth;
    window.addEventListener("resize", () => {
      if (state.funnel && window.innerWidth !== lastWidth) renderFunnel(state.funnel);
      lastWidth = window.innerWidth;
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.openId) closeDetail();
    });
    if (token()) {
      // Signed in earlier in this tab: check the token still works.
      api("/v1.0/messages?limit=1").then(enterLog, (failure) => {
        sessionStorage.removeItem(TOKEN_KEY);
        $("sign-in-error").textContent = refusal(failure);
        show($("sign-in-error"), true);
        $("token").focus();
      });
    } else {
      $("token").focus();
    }
  });
})();
