/* Queue mode and the registration state from C: Register carries `Q`, the state moves from
 * REGISTERING to REGISTERED, NOT_FOUND for an unknown server, and SLEEPING comes once
 * MAX_TRANSMIT_WAIT (93 s with the defaults) has passed since the last datagram, then AWAKE
 * when a request comes in. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fake_net.h"

/* Whether the datagram carries a Uri-Query option that is exactly "Q". */
static int has_q_query(const uint8_t *b, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == 0x01 && b[i + 1] == 'Q' && i > 0 && b[i - 1] != 0xff) return 1;
    }
    return 0;
}

/* Drains the events; how many of `kind` were among them. */
static int count_events(lwm2mc_client *c, lwm2mc_event_kind kind) {
    lwm2mc_event ev;
    int n = 0;
    while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) n += ev.kind == kind;
    return n;
}

int main(void) {
    fake_net net;
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_transport t;
    lwm2mc_registration_state state;
    uint64_t next = 0;
    uint8_t req[64];
    size_t len;
    memset(&net, 0, sizeof net);
    t = fake_transport(&net);
    CHECK_OK(lwm2mc_config_new("c-queue", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 3600));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "queue", "0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_RESULT(lwm2mc_config_set_queue_mode(NULL, true), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_OK(lwm2mc_config_set_queue_mode(cfg, true));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_start(c, 0));
    CHECK_OK(lwm2mc_client_step(c, 1, &next));
    CHECK(fake_last_code(&net) == 0x02 && has_q_query(net.last, net.last_len));
    CHECK_OK(lwm2mc_client_registration_state(c, 1, &state));
    CHECK(state == LWM2MC_REGISTRATION_STATE_REGISTERING);
    CHECK_RESULT(lwm2mc_client_registration_state(c, 9, &state), LWM2MC_RESULT_NOT_FOUND);
    CHECK_RESULT(lwm2mc_client_registration_state(c, 1, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    fake_accept_register(c, &net, 1000);
    CHECK_OK(lwm2mc_client_registration_state(c, 1, &state));
    CHECK(state == LWM2MC_REGISTRATION_STATE_REGISTERED);

    /* The next deadline is the end of the awake window: 93 s after the 2.01 came in. */
    CHECK_OK(lwm2mc_client_step(c, 1000, &next));
    CHECK(next == 94000);
    CHECK_OK(lwm2mc_client_step(c, 93999, &next));
    CHECK(count_events(c, LWM2MC_EVENT_KIND_SLEEPING) == 0);
    CHECK_OK(lwm2mc_client_step(c, 94000, &next));
    CHECK(count_events(c, LWM2MC_EVENT_KIND_SLEEPING) == 1);
    CHECK(next > 94000 + 3000000); /* asleep: the Update is the next thing */

    /* A request the server queued arrives: AWAKE, and it is answered. */
    len = coap_request(req, 0x01, 0x700, "/3/0/0", -1, NULL, 0);
    CHECK(fake_ask(c, &net, req, len, 100000) == 0x45);
    CHECK(count_events(c, LWM2MC_EVENT_KIND_AWAKE) == 1);
    lwm2mc_client_free(c);
    printf("servers: ok\n");
    return 0;
}
