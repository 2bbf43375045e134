/* The C API's promises, without a network: result messages, NULL checks on every pointer
 * parameter, argument validation, panics caught, free(NULL) harmless, values by path. */
#include <string.h>

#include "lwm2mc.h"
#include "check.h"

static void results_have_messages(void) {
    for (uint32_t r = 0; r <= LWM2MC_RESULT_BUSY; r++) {
        const char *m = lwm2mc_result_str(r);
        CHECK(m != NULL && strlen(m) > 0);
    }
    CHECK(strcmp(lwm2mc_result_str(9999), "unknown result") == 0);
    CHECK(strcmp(lwm2mc_event_kind_str(LWM2MC_EVENT_KIND_REGISTERED), "registered") == 0);
    CHECK(strcmp(lwm2mc_event_kind_str(LWM2MC_EVENT_KIND_BOOTSTRAP_FINISH_REFUSED),
                 "bootstrap_finish_refused") == 0);
    CHECK(strcmp(lwm2mc_event_kind_str(4000000000u), "unknown") == 0);
    CHECK(strlen(lwm2mc_version()) > 0);
}

static void null_pointers_are_refused(void) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *client = NULL;
    uint64_t next = 0;
    bool flag = false;
    lwm2mc_event ev;
    lwm2mc_value v;
    size_t n = 0;
    char buf[8];
    uint16_t port = 0;

    CHECK_RESULT(lwm2mc_config_new(NULL, &cfg), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_new("ep", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_lwm2m_version(NULL, 1), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_preferred_format(NULL, 112), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_root_formats(NULL, LWM2MC_ROOT_FORMATS_ALL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_limit(NULL, LWM2MC_LIMIT_MAX_INSTANCES, 4), LWM2MC_RESULT_NULL_PARAMETER);
    {
        uint32_t t = 0;
        CHECK_RESULT(lwm2mc_client_resource_type(NULL, "/3/0/9", &t), LWM2MC_RESULT_NULL_PARAMETER);
    }
    CHECK_RESULT(lwm2mc_config_set_ack_timeout_ms(NULL, 100), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_seed(NULL, 1), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_add_bootstrap_server(NULL, "coap://h", 0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_add_server(NULL, 1, "coap://h", 60), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_device(NULL, "a", "b", "c"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_transport(NULL, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_storage(NULL, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_use_file_storage(NULL, "/tmp"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_log(NULL, NULL, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_add_object(NULL, 3303, NULL, true, NULL, 0, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_value(NULL, "/3/0/9", &v), LWM2MC_RESULT_NULL_PARAMETER);

    CHECK_OK(lwm2mc_config_new("contract", &cfg));
    CHECK_RESULT(lwm2mc_config_add_bootstrap_server(cfg, NULL, 0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 1, NULL, 60), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_device(cfg, NULL, "b", "c"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_device(cfg, "a", NULL, "c"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_device(cfg, "a", "b", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_transport(cfg, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_OK(lwm2mc_config_set_storage(cfg, NULL)); /* NULL: no storage (see test_config_checks.c) */
    CHECK_RESULT(lwm2mc_config_use_file_storage(cfg, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_add_object(cfg, 3303, NULL, true, NULL, 2, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_value(cfg, NULL, &v), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_value(cfg, "/3/0/9", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_new(NULL, &client), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_new(cfg, NULL), LWM2MC_RESULT_NULL_PARAMETER);

    CHECK_RESULT(lwm2mc_client_start(NULL, 0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_stop(NULL, 0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_is_stopped(NULL, &flag), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_handle_datagram(NULL, 0, 1, (const uint8_t *)"x", 1), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_step(NULL, 0, &next), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_bind_udp(NULL, "127.0.0.1:0"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_udp_port(NULL, &port), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_poll_udp(NULL, 0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_next_event(NULL, &ev), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_value(NULL, "/3/0/9", &v), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_int(NULL, "/3/0/9", 1), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_float(NULL, "/3/0/9", 1.0), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_bool(NULL, "/3/0/9", true), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_time(NULL, "/3/0/13", 1), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_string(NULL, "/3/0/14", "x"), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_get_value(NULL, "/3/0/9", &v), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_get_string(NULL, "/3/0/0", buf, sizeof buf, &n), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_save(NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_is_registered(NULL, 1, &flag), LWM2MC_RESULT_NULL_PARAMETER);

    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "C-1", "0001"));
    CHECK_OK(lwm2mc_client_new(cfg, &client));
    CHECK_RESULT(lwm2mc_client_is_stopped(client, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_handle_datagram(client, 0, 1, NULL, 3), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_step(client, 0, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_bind_udp(client, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_next_event(client, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_value(client, NULL, &v), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_value(client, "/3/0/9", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_set_string(client, "/3/0/14", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_get_value(client, "/3/0/9", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_get_string(client, "/3/0/0", NULL, 4, &n), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_get_string(client, "/3/0/0", buf, sizeof buf, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_is_registered(client, 1, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_client_udp_port(client, NULL), LWM2MC_RESULT_NULL_PARAMETER);

    lwm2mc_client_free(client);
    lwm2mc_config_free(cfg);
    lwm2mc_client_free(NULL);
    lwm2mc_config_free(NULL);
}

static void bad_arguments_are_refused(void) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *client = NULL;
    uint64_t next = 0;
    char buf[3];
    size_t n = 0;
    const char bad_utf8[] = {(char)0xff, (char)0xfe, 0};
    lwm2mc_resource_def res[2] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
        {5700, LWM2MC_TYPE_STRING, LWM2MC_OPERATION_READ, false, false},
    };

    CHECK_RESULT(lwm2mc_config_new("", &cfg), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_new(bad_utf8, &cfg), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_OK(lwm2mc_config_new("args", &cfg));
    CHECK_RESULT(lwm2mc_config_set_lwm2m_version(cfg, 7), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_preferred_format(cfg, 40), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_root_formats(cfg, 3), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_root_formats(cfg, LWM2MC_ROOT_FORMATS_OMIT), LWM2MC_RESULT_OK);
    CHECK_RESULT(lwm2mc_config_set_limit(cfg, 9, 4), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_limit(cfg, LWM2MC_LIMIT_MAX_INSTANCES, 0), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_limit(cfg, LWM2MC_LIMIT_MAX_QUEUED_EVENTS, 8), LWM2MC_RESULT_OK);
    CHECK_RESULT(lwm2mc_config_set_ack_timeout_ms(cfg, 0), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_add_bootstrap_server(cfg, "http://x", 0), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 0, "coap://127.0.0.1:5683", 60), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 65535, "coap://127.0.0.1:5683", 60), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_add_object(cfg, 3, NULL, false, NULL, 0, NULL), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 2, NULL), LWM2MC_RESULT_INVALID_ARGUMENT);
    res[1].id = 5701;
    res[1].type = 99;
    CHECK_RESULT(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 2, NULL), LWM2MC_RESULT_INVALID_ARGUMENT);
    res[1].type = LWM2MC_TYPE_STRING;
    CHECK_OK(lwm2mc_config_add_object(cfg, 3303, "1.1", true, res, 2, NULL));
    CHECK_RESULT(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 2, NULL), LWM2MC_RESULT_ALREADY_EXISTS);
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "C-1", "0001"));
    CHECK_OK(lwm2mc_client_new(cfg, &client));

    /* Values by path: unknown resource, wrong type, bad path. */
    CHECK_RESULT(lwm2mc_client_set_int(client, "/3/0/99", 1), LWM2MC_RESULT_NOT_FOUND);
    {
        uint32_t t = 99;
        CHECK_RESULT(lwm2mc_client_resource_type(client, "/3/0/9", &t), LWM2MC_RESULT_OK);
        CHECK(t == LWM2MC_TYPE_INTEGER);
        CHECK_RESULT(lwm2mc_client_resource_type(client, "/3/0/13", &t), LWM2MC_RESULT_OK);
        CHECK(t == LWM2MC_TYPE_TIME);
        CHECK_RESULT(lwm2mc_client_resource_type(client, "/3/0/99", &t), LWM2MC_RESULT_NOT_FOUND);
        CHECK_RESULT(lwm2mc_client_resource_type(client, "/3/0", &t), LWM2MC_RESULT_INVALID_ARGUMENT);
        CHECK_RESULT(lwm2mc_client_resource_type(client, "/3/0/9", NULL), LWM2MC_RESULT_NULL_PARAMETER);
    }
    CHECK_RESULT(lwm2mc_client_set_int(client, "/3/0/0", 1), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_client_set_int(client, "/3/x/9", 1), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_client_set_int(client, bad_utf8, 1), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_OK(lwm2mc_client_set_float(client, "/3303/0/5700", 21.5));
    CHECK_OK(lwm2mc_client_set_string(client, "/3303/0/5701", "Cel"));
    {
        lwm2mc_value v;
        CHECK_OK(lwm2mc_client_get_value(client, "/3303/0/5700", &v));
        CHECK(v.type == LWM2MC_TYPE_FLOAT && v.floating == 21.5);
        CHECK_RESULT(lwm2mc_client_get_value(client, "/3303/1/5700", &v), LWM2MC_RESULT_NOT_FOUND);
    }
    CHECK_RESULT(lwm2mc_client_get_string(client, "/3/0/0", buf, sizeof buf, &n), LWM2MC_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 5); /* "ACME" and its NUL need 5 bytes; only 3 were offered */
    {
        char exact[4] = {'x', 'x', 'x', 'x'};
        char big[16];
        /* Room for the characters but not the NUL: refused, nothing written (was copied
           unterminated before). */
        CHECK_RESULT(lwm2mc_client_get_string(client, "/3/0/0", exact, sizeof exact, &n),
                     LWM2MC_RESULT_INSUFFICIENT_SIZE);
        CHECK(n == 5 && exact[0] == 'x');
        CHECK_OK(lwm2mc_client_get_string(client, "/3/0/0", big, sizeof big, &n));
        CHECK(n == 4 && strcmp(big, "ACME") == 0);
    }
    /* Driving a UDP-less client through the UDP functions is a state error. */
    CHECK_RESULT(lwm2mc_client_poll_udp(client, 0), LWM2MC_RESULT_INVALID_STATE);
    CHECK_RESULT(lwm2mc_client_bind_udp(client, "not an address"), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_OK(lwm2mc_client_step(client, 0, &next));
    CHECK(next == UINT64_MAX);
    /* A datagram from a peer the transport never opened. */
    CHECK_RESULT(lwm2mc_client_handle_datagram(client, 0, 42, (const uint8_t *)"\x40\x00\x00\x01", 4), LWM2MC_RESULT_NOT_FOUND);
    lwm2mc_client_free(client);
    lwm2mc_config_free(cfg);
}

static void panics_do_not_cross_the_boundary(void) {
#if defined(LWM2MC_TEST_HOOKS)
    CHECK_RESULT(lwm2mc_test_panic(), LWM2MC_RESULT_PANIC);
    CHECK_RESULT(lwm2mc_test_panic(), LWM2MC_RESULT_PANIC);
#else
#error "build the C tests with -DLWM2MC_TEST_HOOKS"
#endif
}

int main(void) {
    results_have_messages();
    null_pointers_are_refused();
    bad_arguments_are_refused();
    panics_do_not_cross_the_boundary();
    printf("api contract: ok\n");
    return 0;
}
