// Drives a running rwkv-server with the official `openai` npm package: a client nobody here wrote.
// usage: node openai_client.mjs BASE_URL [EMBEDDING_BASE_URL]   (scripts/test-server-client runs it)
import OpenAI from "openai";

const [baseURL, embeddingURL] = process.argv.slice(2);
let failures = 0;
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures++;
}

const client = new OpenAI({ baseURL, apiKey: "test-key", maxRetries: 0, timeout: 60_000 });

const models = await client.models.list();
check(models.data.length === 1 && typeof models.data[0].id === "string", "models.list");
const model = models.data[0].id;

const completion = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 16, temperature: 0 });
check(typeof completion.choices[0].text === "string" && completion.usage.completion_tokens === 16, "completions.create");

let streamed = "";
let chunks = 0;
const stream = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 16, temperature: 0, stream: true });
for await (const part of stream) {
  streamed += part.choices[0]?.text ?? "";
  chunks++;
}
check(chunks > 1 && streamed === completion.choices[0].text, "completions stream equals the full response");

const chat = await client.chat.completions.create({
  model,
  messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hello" }],
  max_tokens: 16,
  temperature: 0,
});
check(chat.choices[0].message.role === "assistant" && typeof chat.choices[0].message.content === "string",
      "chat.completions.create");

let chatStreamed = "";
const chatStream = await client.chat.completions.create({
  model,
  messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hello" }],
  max_tokens: 16,
  temperature: 0,
  stream: true,
});
for await (const part of chatStream) chatStreamed += part.choices[0]?.delta?.content ?? "";
check(chatStreamed === chat.choices[0].message.content, "chat stream equals the full response");

try {
  await client.completions.create({ model, prompt: "x", temperature: "hot" });
  check(false, "a bad field is rejected");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.status === 400, "a bad field: BadRequestError 400");
}
try {
  await new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).models.list();
  check(false, "a wrong key is rejected");
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, "a wrong key: AuthenticationError 401");
}

if (embeddingURL) {
  const emb = new OpenAI({ baseURL: embeddingURL, apiKey: "none", maxRetries: 0 });
  const r = await emb.embeddings.create({ model: "emb", input: ["hello world", "goodbye"], encoding_format: "float" });
  check(r.data.length === 2 && r.data[0].embedding.length > 0, "embeddings.create");
  // The SDK's default asks for base64 and decodes it itself.
  const b = await emb.embeddings.create({ model: "emb", input: ["hello world", "goodbye"] });
  check(b.data[0].embedding.length === r.data[0].embedding.length &&
        b.data[0].embedding.every((v, i) => v === r.data[0].embedding[i]), "embeddings.create, base64 (the SDK default)");
} else {
  console.log("skip embeddings: no EmbeddingRWKV server");
}

if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
