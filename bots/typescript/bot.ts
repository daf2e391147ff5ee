// A small TypeScript bot on types generated from the server's OpenAPI document:
//
//   npx openapi-typescript http://127.0.0.1:8000/openapi.json --default-non-nullable false \
//     -o bots/typescript/exchange-api.d.ts
//   npx tsc --strict --target es2022 --lib es2022,dom --module commonjs --outDir /tmp/bot \
//     bots/typescript/bot.ts
//   node /tmp/bot/bot.js http://127.0.0.1:8000
//
// It registers a team, rests a buy well below the market, lists its open orders, cancels
// the order and lists them again, printing one line a step. Node 18+ (global fetch).

import type { components, operations } from "./exchange-api";

type Schemas = components["schemas"];
type OrderRequest = Schemas["OrderRequest"];
type ErrorEnvelope = Schemas["ErrorEnvelope"];
type Answer<Op extends keyof operations, Status extends number> =
  operations[Op]["responses"] extends Record<Status, { content: { "application/json": infer T } }>
    ? T
    : never;

declare const process: { argv: string[]; exitCode?: number };

class ExchangeError extends Error {
  constructor(readonly status: number, readonly body: ErrorEnvelope) {
    super(`${status} ${body.error?.code}: ${body.error?.message}`);
  }
}

class Exchange {
  private key = "";

  constructor(private readonly base: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.key) headers["X-API-Key"] = this.key;
    const reply = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const parsed: unknown = await reply.json();
    if (!reply.ok) throw new ExchangeError(reply.status, parsed as ErrorEnvelope);
    return parsed as T;
  }

  async register(name: string): Promise<Schemas["Registered"]> {
    const body: Schemas["RegisterRequest"] = { team_name: name, role: "hedge_fund" };
    const answer = await this.call<Answer<"registerTeam", 201>>("POST", "/auth/register", body);
    if (!answer.data) throw new Error("registered without data");
    this.key = answer.data.api_key;
    return answer.data;
  }

  async instruments(): Promise<Schemas["InstrumentView"][]> {
    const answer = await this.call<Answer<"listInstruments", 200>>("GET", "/instruments");
    return answer.data ?? [];
  }

  async place(order: OrderRequest): Promise<Schemas["OrderAck"]> {
    const answer = await this.call<Answer<"placeOrder", 201>>("POST", "/orders", order);
    if (!answer.data) throw new Error("an order accepted without data");
    return answer.data;
  }

  async openOrders(): Promise<Schemas["OrderView"][]> {
    const answer = await this.call<Answer<"listOrders", 200>>("GET", "/orders");
    return answer.data ?? [];
  }

  async cancel(orderId: string): Promise<Schemas["CancelAck"]> {
    const path = `/orders/${encodeURIComponent(orderId)}`;
    const answer = await this.call<Answer<"cancelOrder", 200>>("DELETE", path);
    if (!answer.data) throw new Error("a cancel acknowledged without data");
    return answer.data;
  }
}

function describe(order: Schemas["OrderView"]): string {
  const side: Schemas["Side"] = order.side;
  const status: Schemas["OrderView"]["status"] = order.status;
  return `${order.order_id} ${side} ${order.quantity} ${order.instrument_id} @ ${order.price} ${status}`;
}

async function main(base: string): Promise<void> {
  const exchange = new Exchange(base);
  const team = await exchange.register(`ts-bot-${Date.now() % 100000}`);
  console.log(`registered ${team.team_id} as ${team.role}`);
  const spx = (await exchange.instruments()).find((i) => i.instrument_id === "SPX");
  if (!spx) throw new Error("no SPX listed");
  const ack = await exchange.place({
    instrument_id: spx.instrument_id,
    side: "buy",
    quantity: 1,
    price: 1.0,
    order_type: "limit",
    client_order_id: "ts-1",
  });
  console.log(`placed ${ack.order_id} ${ack.status}`);
  for (const order of await exchange.openOrders()) console.log(`open ${describe(order)}`);
  const cancelled = await exchange.cancel(ack.order_id);
  console.log(`cancelled ${cancelled.order_id} ${cancelled.cancelled_quantity}`);
  console.log(`open orders left: ${(await exchange.openOrders()).length}`);
}

main(process.argv[2] ?? "http://127.0.0.1:8000").catch((error: unknown) => {
  if (error instanceof ExchangeError) {
    const code: Schemas["ErrorBody"]["code"] | undefined = error.body.error?.code;
    console.log(`refused: ${error.status} ${code}`);
  } else {
    console.log(`failed: ${String(error)}`);
  }
  process.exitCode = 1;
});
