// thinkgate console: copy buttons, tabs, confirmations, dashboard charts, playground stream.
// Loaded from our own origin (the CSP allows no inline script); data arrives as JSON blocks.
"use strict";

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

// The page's words for this script, in the reader's language (base.html: #console-text)
function text(key, fallback) {
  const node = document.getElementById("console-text");
  if (!node) return fallback;
  if (!text.words) {
    try { text.words = JSON.parse(node.textContent); } catch (err) { text.words = {}; }
  }
  return text.words[key] || fallback;
}

function setupCopy() {
  document.querySelectorAll("button.copy").forEach((button) => {
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.copyTarget);
      if (!target) return;
      const ok = await copyText(target.textContent);
      button.textContent = ok ? text("copied", "Copied") : text("copy_failed", "Copy failed");
      setTimeout(() => { button.textContent = text("copy", "Copy"); }, 1500);
    });
  });
}

function setupTabs() {
  document.querySelectorAll(".tabs").forEach((tabs) => {
    tabs.querySelectorAll(".tab").forEach((tab) => {
      tab.addEventListener("click", () => {
        const section = tabs.parentElement;
        section.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
        section.querySelectorAll(".snippet").forEach((s) => {
          s.classList.toggle("hidden", s.id !== tab.dataset.tab);
        });
      });
    });
  });
}

function setupConfirm() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

function setupCharts() {
  const data = readJson("chart-data");
  if (!data || typeof Chart === "undefined") return;
  const days = document.getElementById("chart-days");
  new Chart(days, {
    type: "bar",
    data: {
      labels: data.days.map((d) => d.slice(5)),
      datasets: [
        { label: text("spend", "Spend (USD)"), data: data.day_cost, yAxisID: "cost", backgroundColor: "#3b6ef5" },
        { label: text("requests", "Requests"), data: data.day_requests, yAxisID: "requests", type: "line", borderColor: "#e8793b" },
      ],
    },
    options: {
      animation: false,
      scales: {
        cost: { position: "left", beginAtZero: true },
        requests: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
      },
    },
  });
  new Chart(document.getElementById("chart-models"), {
    type: "doughnut",
    data: {
      labels: data.models.length ? data.models : [text("no_usage", "no usage yet")],
      datasets: [{ label: text("tokens", "Tokens"), data: data.models.length ? data.model_tokens : [1] }],
    },
    options: { animation: false },
  });
}

// Playground: POST to the console's own endpoint (session cookie + CSRF header), read the
// server-sent events from the response body and render them as they arrive.
function setupPlayground() {
  const form = document.getElementById("playground-form");
  if (!form) return;
  const models = readJson("playground-models");
  const modelSelect = document.getElementById("pg-model");
  const effortSelect = document.getElementById("pg-effort");
  const byId = Object.fromEntries(models.map((m) => [m.id, m]));

  function fillEfforts() {
    const model = byId[modelSelect.value];
    effortSelect.replaceChildren();
    model.efforts.forEach((effort) => {
      const option = document.createElement("option");
      option.value = effort;
      option.textContent = effort;
      option.selected = effort === (model.efforts.includes("low") ? "low" : model.default_effort);
      effortSelect.appendChild(option);
    });
  }
  modelSelect.addEventListener("change", fillEfforts);
  fillEfforts();

  const out = document.getElementById("pg-output");
  const reasoning = document.getElementById("pg-reasoning");
  const tokens = document.getElementById("pg-tokens");
  const cost = document.getElementById("pg-cost");
  const state = document.getElementById("pg-state");
  const run = document.getElementById("pg-run");

  function usd(pico) {
    return (pico / 1e12).toFixed(8).replace(/0+$/, "").replace(/\.$/, "");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const model = byId[modelSelect.value];
    out.textContent = "";
    reasoning.textContent = "";
    tokens.textContent = "0";
    cost.textContent = "0";
    run.disabled = true;
    state.textContent = text("thinking", "thinking…");
    let deltas = 0;
    try {
      const reply = await fetch("/console/playground/responses", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
        credentials: "same-origin",
        body: JSON.stringify({
          model: model.id,
          effort: effortSelect.value || null,
          input: document.getElementById("pg-input").value,
          max_output_tokens: Number(document.getElementById("pg-max").value),
        }),
      });
      if (!reply.ok) {
        const text = await reply.text();
        let message = text;
        try { message = JSON.parse(text).error.message; } catch (err) { /* an HTML page */ }
        throw new Error(`${reply.status}: ${message.slice(0, 300)}`);
      }
      const reader = reply.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (!data) continue;
          const ev = JSON.parse(data);
          if (ev.type === "response.output_text.delta") {
            out.textContent += ev.delta;
            deltas += 1;
            state.textContent = text("writing", "writing…");
          } else if (ev.type === "response.reasoning_summary_text.delta") {
            reasoning.textContent += ev.delta;
          } else if (ev.type === "response.reasoning_text.delta") {
            deltas += 1;
          } else if (ev.type === "response.completed" || ev.type === "response.incomplete" || ev.type === "response.failed") {
            const usage = ev.response.usage;
            if (usage) {
              const cached = (usage.input_tokens_details || {}).cached_tokens || 0;
              const pico = (usage.input_tokens - cached) * model.price.input
                + cached * model.price.cached_input + usage.output_tokens * model.price.output;
              tokens.textContent = text("usage_line", "{input} in ({cached} cached) + {output} out ({reasoning} reasoning)")
                .replace("{input}", usage.input_tokens).replace("{cached}", cached)
                .replace("{output}", usage.output_tokens)
                .replace("{reasoning}", (usage.output_tokens_details || {}).reasoning_tokens || 0);
              cost.textContent = usd(pico);
            }
            state.textContent = ev.response.status;
            continue;
          } else if (ev.type === "error") {
            state.textContent = text("error", "error") + ": " + (ev.message || (ev.error || {}).message || "");
          }
          if (ev.type.endsWith(".delta")) {
            tokens.textContent = String(deltas);
            cost.textContent = usd(deltas * model.price.output);
          }
        }
      }
    } catch (err) {
      state.textContent = text("error", "error") + " " + err.message;
    } finally {
      run.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupCopy();
  setupTabs();
  setupConfirm();
  setupCharts();
  setupPlayground();
});
