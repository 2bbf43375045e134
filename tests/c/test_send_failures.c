/* Over real UDP on 127.0.0.1: the device's answer to a Read is larger than a UDP datagram
 * (sendto fails with EMSGSIZE). lwm2mc_client_poll_udp reports it at WARN and counts it, and
 * keeps serving: the next, small Read is answered. This program plays the LwM2M Server. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

static int warnings;
static char last_warning[256];

static void log_cb(void *ud, uint32_t level, const char *message) {
    (void)ud;
    if (level == LWM2MC_LOG_LEVEL_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", message);
    }
}

/* Polls the client until the server socket `s` receives a datagram (into buf) or ~2 s pass. */
static ssize_t poll_until_datagram(lwm2mc_client *c, int s, uint8_t *buf, size_t cap) {
    for (int i = 0; i < 200; i++) {
        struct pollfd fd = {s, POLLIN, 0};
        CHECK_OK(lwm2mc_client_poll_udp(c, 5));
        if (poll(&fd, 1, 5) > 0) {
            return recv(s, buf, cap, 0);
        }
    }
    return -1;
}

int main(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in server, device;
    socklen_t slen = sizeof server;
    char uri[64];
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    uint16_t port = 0;
    static uint8_t buf[70000];
    static char big[33 * 1024 + 1];
    uint8_t req[64], ack[32];
    size_t len, tkl, alen = 0;
    ssize_t n;
    uint64_t failures = 0;
    bool registered = false;

    CHECK(s >= 0);
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (struct sockaddr *)&server, sizeof server) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&server, &slen) == 0);
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%u", (unsigned)ntohs(server.sin_port));

    CHECK_OK(lwm2mc_config_new("c-too-big", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, uri, 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "big", "0001"));
    CHECK_OK(lwm2mc_config_set_log(cfg, NULL, log_cb));
    /* Let the answer be built at full size, so that the socket is what refuses it. */
    CHECK_OK(lwm2mc_config_set_limit(cfg, LWM2MC_LIMIT_MAX_RESPONSE_PAYLOAD, 1000000));
    CHECK_OK(lwm2mc_config_set_block_size(cfg, 0)); /* whole answers: one datagram each */
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    /* Two 33 KB strings: /3/0 no longer fits a UDP datagram. */
    memset(big, 'x', sizeof big - 1);
    CHECK_OK(lwm2mc_client_set_string(c, "/3/0/15", big));
    CHECK_OK(lwm2mc_client_set_string(c, "/3/0/14", big));
    CHECK_OK(lwm2mc_client_bind_udp(c, "127.0.0.1:0"));
    CHECK_OK(lwm2mc_client_udp_port(c, &port));
    memset(&device, 0, sizeof device);
    device.sin_family = AF_INET;
    device.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    device.sin_port = htons(port);

    /* Register, answered 2.01. */
    CHECK_OK(lwm2mc_client_start(c, 0));
    n = poll_until_datagram(c, s, buf, sizeof buf);
    CHECK(n >= 4 && buf[1] == 0x02);
    tkl = buf[0] & 0x0f;
    CHECK(tkl <= 8 && (size_t)n >= 4 + tkl);
    ack[alen++] = (uint8_t)(0x60 | tkl);
    ack[alen++] = 0x41;
    ack[alen++] = buf[2];
    ack[alen++] = buf[3];
    memcpy(ack + alen, buf + 4, tkl);
    alen += tkl;
    ack[alen++] = 0x82;
    ack[alen++] = 'r';
    ack[alen++] = 'd';
    ack[alen++] = 0x01;
    ack[alen++] = '1';
    CHECK(sendto(s, ack, alen, 0, (struct sockaddr *)&device, sizeof device) == (ssize_t)alen);
    for (int i = 0; i < 200 && !registered; i++) {
        CHECK_OK(lwm2mc_client_poll_udp(c, 5));
        CHECK_OK(lwm2mc_client_is_registered(c, 1, &registered));
    }
    CHECK(registered);

    /* Read /3/0: the answer cannot be sent. The call still succeeds. */
    len = coap_request(req, 0x01, 0x7001, "/3/0", -1, NULL, 0);
    CHECK(sendto(s, req, len, 0, (struct sockaddr *)&device, sizeof device) == (ssize_t)len);
    n = poll_until_datagram(c, s, buf, sizeof buf);
    CHECK(n < 0); /* nothing came */
    CHECK_OK(lwm2mc_client_send_failures(c, &failures));
    CHECK(failures == 1);
    CHECK(warnings == 1 && strstr(last_warning, "udp send to 127.0.0.1:") != NULL);
    CHECK(strstr(last_warning, "failed (") != NULL);
    {
        /* ... and reported as an event (the registration event came before it). */
        lwm2mc_event ev;
        int send_failed = 0;
        while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) {
            if (ev.kind == LWM2MC_EVENT_KIND_SEND_FAILED) {
                send_failed++;
                CHECK(strstr(ev.message, "udp send of ") != NULL);
            }
        }
        CHECK(send_failed == 1);
        CHECK(strcmp(lwm2mc_event_kind_str(LWM2MC_EVENT_KIND_SEND_FAILED), "send_failed") == 0);
    }

    /* Read /3/0/0: answered. */
    len = coap_request(req, 0x01, 0x7002, "/3/0/0", -1, NULL, 0);
    CHECK(sendto(s, req, len, 0, (struct sockaddr *)&device, sizeof device) == (ssize_t)len);
    n = poll_until_datagram(c, s, buf, sizeof buf);
    CHECK(n >= 4 && (buf[0] & 0x30) == 0x20 && buf[1] == 0x45 && buf[2] == 0x70 && buf[3] == 0x02);
    CHECK(memcmp(buf + n - 4, "ACME", 4) == 0);

    lwm2mc_client_free(c);
    close(s);
    printf("send failures: ok\n");
    return 0;
}
