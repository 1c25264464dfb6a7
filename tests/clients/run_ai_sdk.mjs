// The Vercel AI SDK's OpenAI provider against thinkgate: `openai.responses(...)` (the
// Responses provider) and `openai.chat(...)`, each through generateText, streamText, a
// tool loop (forced on the first step, answered on the second) and generateObject.
// `reasoningEffort: "none"` keeps temperature (the SDK drops it for gpt-5 models otherwise).
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import { API_KEY, BASE_URL, MAX_TOKENS, MODEL, check, runCases } from "./harness.mjs";

const openai = createOpenAI({ baseURL: BASE_URL, apiKey: API_KEY });
const MODELS = { responses: () => openai.responses(MODEL), chat: () => openai.chat(MODEL) };
const common = {
  maxOutputTokens: MAX_TOKENS, temperature: 0, maxRetries: 0,
  providerOptions: { openai: { reasoningEffort: "none" } },
};
const City = z.object({ city: z.string().max(12), rank: z.number().int() });

const paths = {
  async basic(model) {
    const result = await generateText({ ...common, model, prompt: "Reply with just the word yes." });
    check(result.text.trim(), "no text");
    check(result.usage.outputTokens > 0, "no usage");
    return { text: result.text, finishReason: result.finishReason };
  },

  async stream(model) {
    const result = streamText({ ...common, model, prompt: "Say hello." });
    let deltas = "";
    let count = 0;
    for await (const delta of result.textStream) { deltas += delta; count += 1; }
    const text = await result.text;
    check(count > 1, `expected several deltas, got ${count}`);
    check(deltas === text, "streamed text differs from the final text");
    return { text, deltas: count };
  },

  async tool(model) {
    const add = tool({
      description: "Add two integers.",
      inputSchema: z.object({ a: z.number().int(), b: z.number().int() }),
      execute: async ({ a, b }) => a + b,
    });
    const result = await generateText({
      ...common, model, tools: { add }, prompt: "Add 2 and 3.",
      stopWhen: stepCountIs(2),
      prepareStep: ({ stepNumber }) =>
        stepNumber === 0 ? { toolChoice: { type: "tool", toolName: "add" } } : { toolChoice: "none" },
    });
    const [first] = result.steps;
    const call = first.toolCalls[0];
    check(call && call.toolName === "add", "no add call");
    check(Number.isInteger(call.input.a) && Number.isInteger(call.input.b), "bad input");
    check(first.toolResults[0]?.output === call.input.a + call.input.b, "no tool result");
    check(result.steps.length === 2, `${result.steps.length} steps`);
    return { input: call.input, text: result.text };
  },

  async object(model) {
    const result = await generateObject({
      ...common, model, schema: City, schemaName: "city",
      prompt: "Name a large city and its rank by size.",
    });
    check(City.safeParse(result.object).success, "no object");
    return { output: result.object };
  },
};

const cases = {};
for (const [path, run] of Object.entries(paths)) {
  for (const [api, makeModel] of Object.entries(MODELS)) {
    cases[`${path}_${api}`] = () => run(makeModel());
  }
}
await runCases(cases);
