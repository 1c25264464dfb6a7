// openai-node (the `openai` npm package) against thinkgate: Responses and Chat
// Completions, plain, streamed, with a forced tool call and with structured output
// (the SDK's zod helpers, which send a strict json_schema and parse the reply).
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import { ADD_PARAMETERS, API_KEY, BASE_URL, MAX_TOKENS, MODEL, check, runCases } from "./harness.mjs";

const client = new OpenAI({ baseURL: BASE_URL, apiKey: API_KEY, maxRetries: 0 });
const common = { model: MODEL, temperature: 0 };
const City = z.object({ city: z.string().max(12), rank: z.number().int() });

const cases = {
  async responses_basic() {
    const response = await client.responses.create({
      ...common, max_output_tokens: MAX_TOKENS, input: "Reply with just the word yes.",
    });
    check(response.status === "completed" && response.output_text.trim(), "no text");
    return { text: response.output_text };
  },

  async responses_stream() {
    const stream = client.responses.stream({
      ...common, max_output_tokens: MAX_TOKENS, input: "Say hello.",
    });
    let deltas = "";
    let count = 0;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") { deltas += event.delta; count += 1; }
    }
    const final = await stream.finalResponse();
    check(count > 1, `expected several deltas, got ${count}`);
    check(deltas === final.output_text, "streamed text differs from the final response");
    return { text: final.output_text, deltas: count };
  },

  async responses_tool() {
    const tools = [{ type: "function", name: "add", description: "Add two integers.",
      parameters: ADD_PARAMETERS, strict: true }];
    const first = await client.responses.create({
      ...common, max_output_tokens: MAX_TOKENS, tools, input: "Add 2 and 3.",
      tool_choice: { type: "function", name: "add" },
    });
    const call = first.output.find((item) => item.type === "function_call");
    check(call && call.name === "add", "no add call");
    const args = JSON.parse(call.arguments);
    check(Number.isInteger(args.a) && Number.isInteger(args.b), `args ${call.arguments}`);
    // The documented follow-up: the output goes back with previous_response_id.
    const second = await client.responses.create({
      ...common, max_output_tokens: MAX_TOKENS, tools, previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: String(args.a + args.b) }],
    });
    check(second.output.some((item) => item.type === "message"), "no answer to the tool output");
    const items = [];
    for await (const item of client.responses.inputItems.list(second.id)) items.push(item);
    check(items.some((item) => item.type === "function_call_output" && item.call_id === call.call_id),
      "the tool output is not among the follow-up's input items");
    return { args, text: second.output_text };
  },

  async responses_structured() {
    const response = await client.responses.parse({
      ...common, max_output_tokens: MAX_TOKENS, input: "Name a large city and its rank by size.",
      text: { format: zodTextFormat(City, "city") },
    });
    check(response.output_parsed && City.safeParse(response.output_parsed).success, "no parse");
    return { output: response.output_parsed };
  },

  async chat_basic() {
    const completion = await client.chat.completions.create({
      ...common, max_completion_tokens: MAX_TOKENS,
      messages: [{ role: "user", content: "Reply with just the word yes." }],
    });
    const text = completion.choices[0].message.content;
    check(text && text.trim(), "no text");
    return { text };
  },

  async chat_stream() {
    const stream = client.chat.completions.stream({
      ...common, max_completion_tokens: MAX_TOKENS, stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Say hello." }],
    });
    let deltas = "";
    let count = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) { deltas += delta; count += 1; }
    }
    const final = await stream.finalChatCompletion();
    check(count > 1, `expected several deltas, got ${count}`);
    check(deltas === final.choices[0].message.content, "streamed text differs from the final");
    check(final.usage && final.usage.completion_tokens > 0, "no usage chunk");
    return { text: deltas, deltas: count };
  },

  async chat_tool() {
    const tools = [{ type: "function", function: { name: "add", description: "Add two integers.",
      parameters: ADD_PARAMETERS, strict: true } }];
    const messages = [{ role: "user", content: "Add 2 and 3." }];
    const first = await client.chat.completions.create({
      ...common, max_completion_tokens: MAX_TOKENS, tools, messages,
      tool_choice: { type: "function", function: { name: "add" } },
    });
    const message = first.choices[0].message;
    const call = message.tool_calls?.[0];
    check(call && call.function.name === "add", "no add call");
    const args = JSON.parse(call.function.arguments);
    check(Number.isInteger(args.a) && Number.isInteger(args.b), `args ${call.function.arguments}`);
    const second = await client.chat.completions.create({
      ...common, max_completion_tokens: MAX_TOKENS, tools,
      messages: [...messages, message,
        { role: "tool", tool_call_id: call.id, content: String(args.a + args.b) }],
    });
    check(second.choices[0].message, "no follow-up");
    return { args, text: second.choices[0].message.content };
  },

  async chat_structured() {
    const completion = await client.chat.completions.parse({
      ...common, max_completion_tokens: MAX_TOKENS,
      messages: [{ role: "user", content: "Name a large city and its rank by size." }],
      response_format: zodResponseFormat(City, "city"),
    });
    const parsed = completion.choices[0].message.parsed;
    check(parsed && City.safeParse(parsed).success, "no parse");
    return { output: parsed };
  },
};

await runCases(cases);
