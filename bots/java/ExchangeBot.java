// A trading bot in Java using only the JDK (11 or newer): java.net.http.HttpClient for
// REST and java.net.http.WebSocket for the stream, and a few lines of JSON reading.
//
// It registers a team (unless given --key), opens the team's stream, buys one unit at
// the best ask of an instrument (SPX unless --instrument), prints the HTTP answer and
// every fill the stream reports, then its positions. An order still unfilled after
// CHASE_SECONDS (the house moved its quote) is cancelled and placed again at the new
// ask. Exits 0 once it has seen a fill, 1 if none came within --seconds.
//
//   javac -d out bots/java/ExchangeBot.java
//   java -cp out ExchangeBot --url http://127.0.0.1:8000 --seconds 20

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

public final class ExchangeBot {
    /** Marks the stream's end in the inbox (no JSON message starts with it). */
    private static final String CLOSED = "#closed ";
    /** How long an order may rest unfilled before the bot moves it to the new ask. */
    private static final long CHASE_SECONDS = 3;

    // HTTP/1.1: the default (HTTP/2) would first ask a plain-http server to upgrade.
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final String base;
    private String key;

    private ExchangeBot(String base) {
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        String url = options.getOrDefault("url", "http://127.0.0.1:8000");
        ExchangeBot bot = new ExchangeBot(url);
        double seconds = Double.parseDouble(options.getOrDefault("seconds", "20"));
        String instrument = options.getOrDefault("instrument", "SPX");
        bot.key = options.get("key");
        if (bot.key == null) {
            String name = options.getOrDefault(
                    "team", "java-" + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
            bot.register(name, "hedge_fund");
        }
        System.exit(bot.trade(instrument, seconds) ? 0 : 1);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            out.put(args[i].substring(2), args[i + 1]);
        }
        return out;
    }

    // -- REST -----------------------------------------------------------------------

    /** Sends one request; returns the envelope's data, or throws with the error code. */
    private Object call(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json");
        if (key != null) {
            request.header("X-API-Key", key);
        }
        HttpRequest.BodyPublisher publisher = body == null
                ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body);
        HttpResponse<String> reply = http.send(
                request.method(method, publisher).build(), HttpResponse.BodyHandlers.ofString());
        Map<String, Object> envelope = Json.object(Json.parse(reply.body()));
        if (!Boolean.TRUE.equals(envelope.get("success"))) {
            Map<String, Object> error = Json.object(envelope.get("error"));
            throw new IllegalStateException(
                    reply.statusCode() + " " + error.get("code") + ": " + error.get("message"));
        }
        return envelope.get("data");
    }

    private void register(String name, String role) throws Exception {
        String body =
                "{\"team_name\": " + Json.quote(name) + ", \"role\": " + Json.quote(role) + "}";
        Map<String, Object> team = Json.object(call("POST", "/auth/register", body));
        key = (String) team.get("api_key");
        System.out.println("registered " + team.get("team_id") + " as " + role);
    }

    /** The best ask of `instrument` from GET /market/prices, or null. */
    private BigDecimal bestAsk(String instrument) throws Exception {
        Map<String, Object> prices = Json.object(call("GET", "/market/prices", null));
        for (Object line : Json.list(prices.get("instruments"))) {
            Map<String, Object> top = Json.object(line);
            if (instrument.equals(top.get("instrument_id")) && top.get("ask") != null) {
                BigDecimal ask = BigDecimal.valueOf((Double) top.get("ask"));
                return ask.setScale(2, RoundingMode.HALF_UP);
            }
        }
        return null;
    }

    // -- trading --------------------------------------------------------------------

    private boolean trade(String instrument, double seconds) throws Exception {
        LinkedBlockingQueue<String> inbox = new LinkedBlockingQueue<>();
        String wsUrl = base.replaceFirst("^http", "ws") + "/ws";
        WebSocket ws = http.newWebSocketBuilder()
                .header("X-API-Key", key)
                .buildAsync(URI.create(wsUrl), new Inbox(inbox))
                .get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        String teamId = null;
        String orderId = null;
        long placedAt = 0;
        int fills = 0;
        while (System.nanoTime() < deadline && fills == 0) {
            if (teamId != null && orderId == null) {
                orderId = placeOrder(instrument);
                placedAt = System.nanoTime();
            } else if (orderId != null && System.nanoTime() - placedAt > CHASE_SECONDS * 1e9) {
                orderId = chase(orderId);
                placedAt = System.nanoTime();
            }
            String raw = inbox.poll(200, TimeUnit.MILLISECONDS);
            if (raw == null) {
                continue;
            }
            if (raw.startsWith(CLOSED)) {
                // 1008: a wrong key; reconnecting would not help (a real bot would
                // reconnect with ?since=<last seq> after any other close).
                System.out.println("stream closed: " + raw.substring(CLOSED.length()));
                return false;
            }
            Map<String, Object> message = Json.object(Json.parse(raw));
            Map<String, Object> data = Json.object(message.get("data"));
            String type = (String) message.get("type");
            if ("connection_status".equals(type)) {
                teamId = (String) data.get("team_id");
                System.out.println("connected as " + teamId + ", phase " + data.get("phase"));
            } else if ("execution_report".equals(type) && "trade".equals(data.get("exec_type"))) {
                fills++;
                System.out.println("fill: " + data.get("side") + " "
                        + whole(data.get("last_quantity")) + " " + data.get("instrument_id")
                        + " @ " + data.get("last_price")
                        + " (" + data.get("liquidity_type") + "), order " + data.get("order_id")
                        + " " + data.get("status"));
            }
        }
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(5, TimeUnit.SECONDS);
        ws.abort();
        if (teamId != null) {
            Map<String, Object> account = Json.object(call("GET", "/positions/" + teamId, null));
            System.out.println(
                    "positions " + account.get("positions") + ", cash " + account.get("cash"));
        }
        if (fills == 0) {
            System.out.println("no fill within " + seconds + " s");
        }
        return fills > 0;
    }

    /** Buys one unit at the best ask; the order id, or null (no ask yet, or refused). */
    private String placeOrder(String instrument) throws Exception {
        BigDecimal ask = bestAsk(instrument);
        if (ask == null) {
            Thread.sleep(500);
            return null;
        }
        String body = "{\"instrument_id\": " + Json.quote(instrument)
                + ", \"side\": \"buy\", \"quantity\": 1, \"price\": " + ask.toPlainString()
                + ", \"client_order_id\": \"java-1\"}";
        Map<String, Object> ack;
        try {
            ack = Json.object(call("POST", "/orders", body));
        } catch (IllegalStateException refused) {
            System.out.println("refused: " + refused.getMessage());
            Thread.sleep(1000);
            return null;
        }
        System.out.println("accepted order " + ack.get("order_id") + ": buy 1 " + instrument
                + " @ " + ask.toPlainString() + " (" + ack.get("status") + ")");
        return (String) ack.get("order_id");
    }

    /** Cancels a resting order to place it again at the new ask: null once it is
     *  cancelled; the same id if it is no longer open (it filled: the report is coming). */
    private String chase(String orderId) throws Exception {
        try {
            call("DELETE", "/orders/" + orderId, null);
        } catch (IllegalStateException gone) {
            return orderId;
        }
        System.out.println("cancelled order " + orderId + ": the ask moved; buying at the new one");
        return null;
    }

    private static String whole(Object number) {
        if (number instanceof Double) {
            return String.valueOf(((Double) number).longValue());
        }
        return String.valueOf(number);
    }

    /** Collects whole text messages (a message may arrive in several frames). */
    private static final class Inbox implements WebSocket.Listener {
        private final LinkedBlockingQueue<String> queue;
        private final StringBuilder partial = new StringBuilder();

        Inbox(LinkedBlockingQueue<String> queue) {
            this.queue = queue;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            queue.add(CLOSED + code + " " + reason);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            queue.add(CLOSED + "error " + error);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence text, boolean last) {
            partial.append(text);
            if (last) {
                queue.add(partial.toString());
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }
    }

    /** Just enough JSON: objects, arrays, strings, numbers (as Double), booleans, null. */
    static final class Json {
        private final String text;
        private int at;

        private Json(String text) {
            this.text = text;
        }

        static Object parse(String text) {
            Json json = new Json(text);
            Object value = json.value();
            json.space();
            if (json.at != text.length()) {
                throw json.error("trailing characters");
            }
            return value;
        }

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(Object value) {
            return value == null ? new HashMap<>() : (Map<String, Object>) value;
        }

        @SuppressWarnings("unchecked")
        static List<Object> list(Object value) {
            return value == null ? new ArrayList<>() : (List<Object>) value;
        }

        static String quote(String s) {
            StringBuilder out = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') {
                    out.append('\\').append(c);
                } else if (c < 0x20) {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
            return out.append('"').toString();
        }

        private Object value() {
            space();
            if (at >= text.length()) {
                throw error("unexpected end");
            }
            char c = text.charAt(at);
            if (c == '{') {
                return objectValue();
            }
            if (c == '[') {
                return arrayValue();
            }
            if (c == '"') {
                return stringValue();
            }
            for (String word : new String[] {"true", "false", "null"}) {
                if (text.startsWith(word, at)) {
                    at += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            return number();
        }

        private Map<String, Object> objectValue() {
            Map<String, Object> out = new LinkedHashMap<>();
            at++;
            space();
            if (peek('}')) {
                return out;
            }
            do {
                space();
                String name = stringValue();
                space();
                expect(':');
                out.put(name, value());
                space();
            } while (peek(','));
            expect('}');
            return out;
        }

        private List<Object> arrayValue() {
            List<Object> out = new ArrayList<>();
            at++;
            space();
            if (peek(']')) {
                return out;
            }
            do {
                out.add(value());
                space();
            } while (peek(','));
            expect(']');
            return out;
        }

        private String stringValue() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (at < text.length()) {
                char c = text.charAt(at++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = text.charAt(at++);
                switch (e) {
                    case 'n': out.append('\n'); break;
                    case 't': out.append('\t'); break;
                    case 'r': out.append('\r'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u':
                        out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        at += 4;
                        break;
                    default: out.append(e);
                }
            }
            throw error("unterminated string");
        }

        private Double number() {
            int start = at;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                at++;
            }
            if (start == at) {
                throw error("unexpected character");
            }
            return Double.valueOf(text.substring(start, at));
        }

        private void space() {
            while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
                at++;
            }
        }

        private boolean peek(char c) {
            if (at < text.length() && text.charAt(at) == c) {
                at++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at " + at);
        }
    }
}
