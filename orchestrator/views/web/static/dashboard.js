// The dashboard refreshes its live part from /live; actions send the operator's token as a Bearer
// header (kept for this browser tab only, in sessionStorage).
"use strict";

(function () {
  const body = document.body;
  const refreshMs = Math.max(1, parseFloat(body.dataset.refreshS || "2")) * 1000;
  const live = document.getElementById("live");
  const connection = document.getElementById("connection");
  const message = document.getElementById("message");
  const TOKEN_KEY = "parallel-orchestrator-dashboard-token";

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "bad" : "ok";
  }

  async function refresh() {
    try {
      const response = await fetch("/live", { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      live.innerHTML = await response.text();
      connection.textContent = "live";
      connection.className = "ok";
    } catch (error) {
      connection.textContent = "disconnected (" + error.message + "), retrying";
      connection.className = "bad";
    }
  }

  function token() {
    let value = sessionStorage.getItem(TOKEN_KEY);
    if (!value) {
      value = window.prompt("Dashboard token ([dashboard] token in the config):") || "";
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
    }
    return value;
  }

  async function act(name, payload, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    const secret = token();
    if (!secret) return;
    const response = await fetch("/api/" + name, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + secret },
      body: JSON.stringify(payload),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401 || response.status === 403) sessionStorage.removeItem(TOKEN_KEY);
    if (response.ok) say(name + ": done " + JSON.stringify(answer.result), false);
    else say(name + ": " + (answer.error || "HTTP " + response.status), true);
    refresh();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "unblock") {
      act("unblock", { account: button.dataset.account }, "Unblock " + button.dataset.account + "?");
    } else if (action === "requeue") {
      const review = button.dataset.status === "review";
      const warning = review ? " It is in review: it MAY ALREADY BE POSTED. Check the account first." : "";
      act("requeue", { job_ids: [button.dataset.job], review: review, failed: !review },
          "Requeue " + button.dataset.job + "?" + warning);
    } else if (action === "stop-all") {
      act("stop-all", {}, "Stop the run, its workers and our phones?");
    }
  });

  setInterval(refresh, refreshMs);
})();
