/* A transport hook for the C tests that needs no network: it records what the client sends,
 * returns whatever the test chose from open/send, and lets the test play the LwM2M Server by
 * handing hand-made CoAP datagrams back with lwm2mc_client_handle_datagram. */
#ifndef LWM2MC_TEST_FAKE_NET_H
#define LWM2MC_TEST_FAKE_NET_H

#include <stdint.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"

#define FAKE_PEER 7 /* the handle our open gives out */

typedef struct fake_net {
    lwm2mc_result open_result; /* what open and send return */
    lwm2mc_result send_result;
    int opens, sends, closes;
    uint8_t last[70000]; /* the last datagram sent */
    size_t last_len;
    int acks;              /* ACKs sent */
    uint16_t last_ack_mid; /* message ID and code of the last ACK sent */
    uint8_t last_ack_code;
    /* Called at the start of every send (after recording it), if set. */
    void (*on_send)(struct fake_net *net);
    void *user;
} fake_net;

static inline lwm2mc_result fake_open(void *ud, const lwm2mc_server_info *info, size_t *peer_out) {
    fake_net *n = ud;
    (void)info;
    if (n->open_result != LWM2MC_RESULT_OK) {
        return n->open_result;
    }
    n->opens++;
    *peer_out = FAKE_PEER;
    return LWM2MC_RESULT_OK;
}

static inline lwm2mc_result fake_send(void *ud, size_t peer, const uint8_t *buf, size_t len) {
    fake_net *n = ud;
    CHECK(peer == FAKE_PEER);
    n->sends++;
    if (len <= sizeof n->last) {
        memcpy(n->last, buf, len);
        n->last_len = len;
    }
    if (len >= 4 && (buf[0] & 0x30) == 0x20) {
        n->acks++;
        n->last_ack_mid = (uint16_t)((buf[2] << 8) | buf[3]);
        n->last_ack_code = buf[1];
    }
    if (n->on_send != NULL) {
        n->on_send(n);
    }
    return n->send_result;
}

static inline void fake_close(void *ud, size_t peer) {
    fake_net *n = ud;
    CHECK(peer == FAKE_PEER);
    n->closes++;
}

static inline lwm2mc_transport fake_transport(fake_net *n) {
    lwm2mc_transport t;
    memset(&t, 0, sizeof t);
    t.userdata = n;
    t.open = fake_open;
    t.send = fake_send;
    t.close = fake_close;
    return t;
}

/* CoAP code of the last datagram sent (0 if none). */
static inline uint8_t fake_last_code(const fake_net *n) {
    return n->last_len >= 4 ? n->last[1] : 0;
}

/* A CON request with message ID `mid`, no token, Uri-Path from the '/'-separated `path`, and an
 * optional Content-Format (`cf` < 0: none) and payload. Returns the length written to `out`. */
static inline size_t coap_request(uint8_t *out, uint8_t code, uint16_t mid, const char *path, int cf,
                           const uint8_t *payload, size_t payload_len) {
    size_t n = 0;
    unsigned last_opt = 0;
    const char *p = path;
    out[n++] = 0x40; /* version 1, CON, token length 0 */
    out[n++] = code;
    out[n++] = (uint8_t)(mid >> 8);
    out[n++] = (uint8_t)(mid & 0xff);
    while (*p == '/') {
        p++;
    }
    while (*p != '\0') {
        size_t len = strcspn(p, "/");
        CHECK(len < 13);
        out[n++] = (uint8_t)(((11 - last_opt) << 4) | len);
        last_opt = 11;
        memcpy(out + n, p, len);
        n += len;
        p += len;
        while (*p == '/') {
            p++;
        }
    }
    if (cf >= 0) {
        if (cf == 0) {
            out[n++] = (uint8_t)((12 - last_opt) << 4);
        } else if (cf < 256) {
            out[n++] = (uint8_t)(((12 - last_opt) << 4) | 1);
            out[n++] = (uint8_t)cf;
        } else {
            out[n++] = (uint8_t)(((12 - last_opt) << 4) | 2);
            out[n++] = (uint8_t)(cf >> 8);
            out[n++] = (uint8_t)(cf & 0xff);
        }
    }
    if (payload_len > 0) {
        out[n++] = 0xff;
        memcpy(out + n, payload, payload_len);
        n += payload_len;
    }
    return n;
}

/* Sends `req` to the client and returns the code of its piggybacked answer (0 if none). */
static inline uint8_t fake_ask(lwm2mc_client *c, fake_net *n, const uint8_t *req, size_t len, uint64_t now) {
    int before = n->acks;
    CHECK_OK(lwm2mc_client_handle_datagram(c, now, FAKE_PEER, req, len));
    if (n->acks == before) {
        return 0;
    }
    CHECK(n->last_ack_mid == (uint16_t)((req[2] << 8) | req[3])); /* to our message ID */
    return n->last_ack_code;
}

/* Answers the Register the client just sent (the last datagram) with 2.01 Location /rd/1. */
static inline void fake_accept_register(lwm2mc_client *c, fake_net *n, uint64_t now) {
    uint8_t ack[32];
    size_t tkl, len = 0;
    bool registered = false;
    CHECK(n->last_len >= 4 && n->last[1] == 0x02); /* POST /rd */
    tkl = n->last[0] & 0x0f;
    CHECK(tkl <= 8 && n->last_len >= 4 + tkl);
    ack[len++] = (uint8_t)(0x60 | tkl); /* version 1, ACK */
    ack[len++] = 0x41;                  /* 2.01 Created */
    ack[len++] = n->last[2];
    ack[len++] = n->last[3];
    memcpy(ack + len, n->last + 4, tkl);
    len += tkl;
    ack[len++] = 0x82; /* Location-Path (8) "rd" */
    ack[len++] = 'r';
    ack[len++] = 'd';
    ack[len++] = 0x01; /* Location-Path "1" */
    ack[len++] = '1';
    CHECK_OK(lwm2mc_client_handle_datagram(c, now, FAKE_PEER, ack, len));
    CHECK_OK(lwm2mc_client_is_registered(c, 1, &registered));
    CHECK(registered);
}

#endif
