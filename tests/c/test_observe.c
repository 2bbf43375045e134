/* Information Reporting from C: an Observe on an object the application holds through
 * callbacks, lwm2mc_client_changed bringing a notification, the observation list, a
 * cancelling GET (Observe=1) ending it, and Send. The test plays the LwM2M Server with hand-made CoAP. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

static double celsius = 21.5;

static lwm2mc_result t_read(void *ud, uint16_t obj, uint16_t inst, uint16_t res, lwm2mc_value *out) {
    (void)ud;
    (void)obj;
    if (inst != 0 || res != 5700) {
        return LWM2MC_RESULT_NOT_FOUND;
    }
    out->type = LWM2MC_TYPE_FLOAT;
    out->floating = celsius;
    return LWM2MC_RESULT_OK;
}

/* GET /3303/0/5700 with Observe = `observe` (0 register, 1 deregister), no token. */
static size_t observe_request(uint8_t *out, uint16_t mid, uint8_t observe) {
    static const uint8_t path[] = {0x54, '3', '3', '0', '3', 0x01, '0', 0x04, '5', '7', '0', '0'};
    size_t n = 0;
    out[n++] = 0x40;
    out[n++] = 0x01;
    out[n++] = (uint8_t)(mid >> 8);
    out[n++] = (uint8_t)(mid & 0xff);
    if (observe == 0) {
        out[n++] = 0x60; /* Observe (6), empty: the value 0 */
    } else {
        out[n++] = 0x61; /* Observe (6), one byte */
        out[n++] = observe;
    }
    memcpy(out + n, path, sizeof path); /* Uri-Path (11 = 6 + 5) */
    return n + sizeof path;
}

/* GET /3/0/9 with Observe = 0, no token: the store-held Battery Level. */
static size_t observe_battery(uint8_t *out, uint16_t mid) {
    static const uint8_t req[] = {0x40, 0x01, 0, 0, 0x60, 0x51, '3', 0x01, '0', 0x01, '9'};
    memcpy(out, req, sizeof req);
    out[2] = (uint8_t)(mid >> 8);
    out[3] = (uint8_t)(mid & 0xff);
    return sizeof req;
}

/* Whether the datagram carries an Observe option (the first option after a 0-byte token). */
static int has_observe(const uint8_t *d, size_t len) {
    return len > 4 && (d[4] >> 4) == 6;
}

/* Answers the client's last (CON) datagram with a piggybacked ACK carrying `code`. */
static void ack_last(lwm2mc_client *c, fake_net *n, uint8_t code, uint64_t now) {
    uint8_t ack[16];
    size_t tkl = n->last[0] & 0x0f, k = 0;
    CHECK((n->last[0] & 0x30) == 0x00 && tkl <= 8);
    ack[k++] = (uint8_t)(0x60 | tkl);
    ack[k++] = code;
    ack[k++] = n->last[2];
    ack[k++] = n->last[3];
    memcpy(ack + k, n->last + 4, tkl);
    k += tkl;
    CHECK_OK(lwm2mc_client_handle_datagram(c, now, FAKE_PEER, ack, k));
}

int main(void) {
    static const lwm2mc_resource_def res[] = {{5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true}};
    fake_net n;
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_object_callbacks cb;
    lwm2mc_event ev;
    lwm2mc_transport t;
    uint8_t req[64];
    size_t len, used = 0, count = 99;
    uint16_t ssid = 0;
    char path[32];
    uint64_t next = 0;
    int started = 0, cancelled = 0;

    memset(&n, 0, sizeof n);
    memset(&cb, 0, sizeof cb);
    cb.read = t_read;
    t = fake_transport(&n);
    CHECK_OK(lwm2mc_config_new("c-observer", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "obs", "0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_OK(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 1, &cb));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_start(c, 0));
    fake_accept_register(c, &n, 1);

    /* Observe: 2.05 "21.5" carrying the Observe option. */
    len = observe_request(req, 0x200, 0);
    CHECK(fake_ask(c, &n, req, len, 1000) == 0x45);
    CHECK(has_observe(n.last, n.last_len));
    CHECK(n.last_len >= 4 && memcmp(n.last + n.last_len - 4, "21.5", 4) == 0);
    CHECK_OK(lwm2mc_client_observation_count(c, &count));
    CHECK(count == 1);
    CHECK_OK(lwm2mc_client_observation(c, 0, &ssid, path, sizeof path, &used));
    CHECK(ssid == 1 && strcmp(path, "/3303/0/5700") == 0 && used == 13);
    CHECK_RESULT(lwm2mc_client_observation(c, 0, &ssid, path, 4, &used), LWM2MC_RESULT_INSUFFICIENT_SIZE);
    CHECK(used == 13);
    CHECK_RESULT(lwm2mc_client_observation(c, 1, &ssid, path, sizeof path, &used), LWM2MC_RESULT_NOT_FOUND);
    CHECK_RESULT(lwm2mc_client_observation(c, 0, NULL, path, sizeof path, &used), LWM2MC_RESULT_NULL_PARAMETER);

    /* The sensor moved: nothing is sent until the application says so, then a NON 2.05. */
    celsius = 22.25;
    int sends = n.sends;
    CHECK_OK(lwm2mc_client_step(c, 2000, &next));
    CHECK(n.sends == sends);
    CHECK_OK(lwm2mc_client_changed(c, "/3303/0/5700"));
    CHECK_RESULT(lwm2mc_client_changed(c, "not a path"), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_client_changed(c, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_OK(lwm2mc_client_step(c, 2001, &next));
    CHECK(n.sends == sends + 1);
    CHECK((n.last[0] & 0x30) == 0x10 && n.last[1] == 0x45); /* NON 2.05 */
    CHECK(has_observe(n.last, n.last_len));
    CHECK(memcmp(n.last + n.last_len - 5, "22.25", 5) == 0);

    /* A value the library holds: lwm2mc_client_set_int is enough, no changed() call. The
     * empty token of this Observe replaces the observation above (same peer and token,
     * RFC 7641 §4.1), so the list still holds one. */
    CHECK_OK(lwm2mc_client_set_int(c, "/3/0/9", 80));
    CHECK_OK(lwm2mc_client_step(c, 2040, &next));
    len = observe_battery(req, 0x210);
    CHECK(fake_ask(c, &n, req, len, 2050) == 0x45 && has_observe(n.last, n.last_len));
    CHECK_OK(lwm2mc_client_observation_count(c, &count));
    CHECK(count == 1);
    sends = n.sends;
    CHECK_OK(lwm2mc_client_set_int(c, "/3/0/9", 42));
    CHECK_OK(lwm2mc_client_step(c, 2060, &next));
    CHECK(n.sends == sends + 1 && n.last[1] == 0x45 && has_observe(n.last, n.last_len));
    CHECK(memcmp(n.last + n.last_len - 2, "42", 2) == 0);
    /* Back to the temperature, for what follows. */
    len = observe_request(req, 0x211, 0);
    CHECK(fake_ask(c, &n, req, len, 2070) == 0x45);

    /* Offline: the change is stored, nothing is sent; back online, an Update goes out first. */
    CHECK_OK(lwm2mc_client_set_offline(c, 2100, true));
    celsius = 23.0;
    CHECK_OK(lwm2mc_client_changed(c, "/3303/0/5700"));
    sends = n.sends;
    CHECK_OK(lwm2mc_client_step(c, 2200, &next));
    CHECK(n.sends == sends);
    CHECK_OK(lwm2mc_client_set_offline(c, 2300, false));
    CHECK(n.sends >= sends + 1 && n.last[1] == 0x02); /* CON POST /rd/1: the Update */
    sends = n.sends;
    ack_last(c, &n, 0x44, 2301);
    /* ... then the stored notification, "23". */
    CHECK(n.sends == sends + 1 && n.last[1] == 0x45);
    CHECK(memcmp(n.last + n.last_len - 2, "23", 2) == 0);
    CHECK_RESULT(lwm2mc_client_set_offline(NULL, 0, false), LWM2MC_RESULT_NULL_PARAMETER);

    /* Observe=1 with the same (empty) token: answered as a Read, the observation ends. */
    len = observe_request(req, 0x201, 1);
    CHECK(fake_ask(c, &n, req, len, 3000) == 0x45);
    CHECK(!has_observe(n.last, n.last_len));
    CHECK_OK(lwm2mc_client_observation_count(c, &count));
    CHECK(count == 0);
    while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) {
        if (ev.kind == LWM2MC_EVENT_KIND_OBSERVATION_STARTED && strcmp(ev.path, "/3303/0/5700") == 0) {
            started++;
        }
        if (ev.kind == LWM2MC_EVENT_KIND_OBSERVATION_CANCELLED && ev.ssid == 1) {
            cancelled++;
        }
    }
    CHECK(started == 1 && cancelled == 1);
    CHECK(strcmp(lwm2mc_event_kind_str(LWM2MC_EVENT_KIND_OBSERVATION_CANCELLED), "observation_cancelled") == 0);

    /* Send: a CON POST /dp with the SenML JSON pack, then the server's 2.04 as an event. */
    {
        const char *paths[] = {"/3303/0/5700", "/3/0/0"};
        const char *bad[] = {"/3303/0/9999"};
        static const char pack[] = "[{\"n\":\"/3303/0/5700\",\"v\":22.25},{\"n\":\"/3/0/0\",\"vs\":\"ACME\"}]";
        int completed = 0;
        celsius = 22.25;
        CHECK_RESULT(lwm2mc_client_send(c, 4000, 1, paths, 0), LWM2MC_RESULT_INVALID_ARGUMENT);
        CHECK_RESULT(lwm2mc_client_send(c, 4000, 9, paths, 2), LWM2MC_RESULT_INVALID_STATE);
        CHECK_RESULT(lwm2mc_client_send(c, 4000, 1, bad, 1), LWM2MC_RESULT_NOT_FOUND);
        CHECK_RESULT(lwm2mc_client_send(c, 4000, 1, NULL, 1), LWM2MC_RESULT_NULL_PARAMETER);
        sends = n.sends;
        CHECK_OK(lwm2mc_client_send(c, 4000, 1, paths, 2));
        CHECK(n.sends == sends + 1);
        CHECK((n.last[0] & 0x30) == 0x00 && n.last[1] == 0x02); /* CON POST */
        CHECK(n.last_len > sizeof pack && memcmp(n.last + n.last_len - (sizeof pack - 1), pack, sizeof pack - 1) == 0);
        ack_last(c, &n, 0x44, 4001);
        while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) {
            if (ev.kind == LWM2MC_EVENT_KIND_SEND_COMPLETED && ev.ssid == 1) {
                completed++;
            }
        }
        CHECK(completed == 1);
    }
    lwm2mc_client_free(c);
    printf("observe: ok\n");
    return 0;
}
