/* An application object with more instances than the library's first buffer (256): the
 * instances callback says how many it has and is called again with room for them all. Before,
 * the list was cut at 256 without a word and the Register announced only those.
 * The object also lists its resources, so a Discover is answered without a single read. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

#define N_INSTANCES 300

static int instance_calls;
static int reads;

static lwm2mc_result read_value(void *ud, uint16_t object, uint16_t instance, uint16_t resource,
                                lwm2mc_value *out) {
    (void)ud;
    (void)object;
    (void)instance;
    (void)resource;
    reads++;
    out->type = LWM2MC_TYPE_FLOAT;
    out->floating = 21.5;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result present(void *ud, uint16_t object, uint16_t instance, uint16_t *ids, size_t cap,
                             size_t *out_n) {
    (void)ud;
    (void)object;
    if (instance == 8) {
        return LWM2MC_RESULT_UNSUPPORTED; /* not listed: the library reads instead */
    }
    *out_n = 1;
    if (cap < 1) {
        return LWM2MC_RESULT_INSUFFICIENT_SIZE;
    }
    ids[0] = 5700;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result many(void *ud, uint16_t object, uint16_t *ids, size_t cap, size_t *out_n) {
    (void)ud;
    (void)object;
    instance_calls++;
    *out_n = N_INSTANCES;
    if (cap < N_INSTANCES) {
        return LWM2MC_RESULT_INSUFFICIENT_SIZE;
    }
    for (uint16_t i = 0; i < N_INSTANCES; i++) {
        ids[i] = i;
    }
    return LWM2MC_RESULT_OK;
}

static int contains(const uint8_t *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return 1;
        }
    }
    return 0;
}

int main(void) {
    fake_net net;
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_transport t;
    uint64_t next = 0;
    static const lwm2mc_resource_def temperature[] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
    };
    lwm2mc_object_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.instances = many;
    callbacks.read = read_value;
    callbacks.resources = present;
    memset(&net, 0, sizeof net);
    t = fake_transport(&net);
    CHECK_OK(lwm2mc_config_new("many", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "many", "0001"));
    CHECK_OK(lwm2mc_config_add_object(cfg, 3303, NULL, true, temperature, 1, &callbacks));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    /* The whole object list in one datagram, for this test to look at (over 1024 bytes it
       would otherwise go out in Block1 blocks). */
    CHECK_OK(lwm2mc_config_set_block_size(cfg, 0));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_start(c, 0));
    CHECK_OK(lwm2mc_client_step(c, 1, &next));
    /* The Register (the only datagram) lists every instance, the 300th included. */
    CHECK(net.sends == 1 && fake_last_code(&net) == 0x02);
    CHECK(contains(net.last, net.last_len, "</3303/255>,</3303/256>"));
    CHECK(contains(net.last, net.last_len, "</3303/299>"));
    CHECK(instance_calls == 2);

    /* Discover /3303/7 (Accept: link-format) is answered from the listing: no read. */
    fake_accept_register(c, &net, 2);
    {
        uint8_t req[64];
        size_t len = coap_request(req, 0x01, 0x4242, "/3303/7", -1, NULL, 0);
        req[len++] = 0x61; /* Accept (17 = 11 + 6), 1 byte */
        req[len++] = 40;
        CHECK(fake_ask(c, &net, req, len, 3) == 0x45);
        CHECK(contains(net.last, net.last_len, "</3303/7>,</3303/7/5700>"));
        CHECK(reads == 0);
        /* A Read still reads. */
        len = coap_request(req, 0x01, 0x4243, "/3303/7/5700", -1, NULL, 0);
        CHECK(fake_ask(c, &net, req, len, 4) == 0x45);
        CHECK(reads == 1);
        /* An instance the callback declines is discovered by reading, not refused. */
        len = coap_request(req, 0x01, 0x4244, "/3303/8", -1, NULL, 0);
        req[len++] = 0x61;
        req[len++] = 40;
        CHECK(fake_ask(c, &net, req, len, 5) == 0x45);
        CHECK(contains(net.last, net.last_len, "</3303/8>,</3303/8/5700>"));
        CHECK(reads > 1); /* the fallback reads (every instance, as before) */
    }
    lwm2mc_client_free(c);
    printf("many instances: ok\n");
    return 0;
}
