// What every node client script shares: where thinkgate is, and running named cases.
// A script prints one JSON object: for each case `{ok: true, ...what it saw}` or
// `{ok: false, error, stack}`, so one broken path does not hide the others. Arguments, if
// any, name the cases to run. The scripts are copied next to .clients/node/node_modules
// by the tests, so that `import "openai"` resolves to the pinned packages.

export const BASE_URL = process.env.THINKGATE_BASE_URL; // ends in /v1
export const API_KEY = process.env.THINKGATE_API_KEY;
export const MODEL = process.env.THINKGATE_MODEL ?? "gpt-5.1";
export const MAX_TOKENS = 64; // the tiny model rambles: keep every answer short (temperature 0)

export const CITY_SCHEMA = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, rank: { type: "integer" } },
  required: ["city", "rank"],
  additionalProperties: false,
};

export const ADD_PARAMETERS = {
  type: "object",
  properties: { a: { type: "integer" }, b: { type: "integer" } },
  required: ["a", "b"],
  additionalProperties: false,
};

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export async function runCases(cases) {
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(cases);
  const results = {};
  for (const name of wanted) {
    try {
      results[name] = { ok: true, ...((await cases[name]()) ?? {}) };
    } catch (error) {
      results[name] = { ok: false, error: String(error), stack: error?.stack ?? "" };
    }
    console.error(`${name}: ${JSON.stringify(results[name]).slice(0, 2000)}`);
  }
  console.log(JSON.stringify(results));
}
