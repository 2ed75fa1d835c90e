// Reads one message from stdin with Node's mailparser and prints what it understood, as JSON.
// Used by tests/support/node_mail.py: a parser nobody here wrote, and not Python's.
import { simpleParser } from "mailparser";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const parsed = await simpleParser(Buffer.concat(chunks));
const headers = {};
for (const [name, value] of parsed.headers) headers[name] = value;
const addresses = (field) => (field ? field.value.map(({ name, address }) => ({ name, address })) : []);
process.stdout.write(
  JSON.stringify({
    subject: parsed.subject ?? null,
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    messageId: parsed.messageId ?? null,
    headers,
    headerLines: parsed.headerLines.map(({ key }) => key),
    text: parsed.text ?? null,
  }),
);
