/* Callbacks may return any value, not only an lwm2mc_result: -1, 13 and 99 from the storage,
 * transport and object callbacks are failures of that callback (a STORAGE_ERROR, a lost
 * datagram, a 5.00 to the server), never undefined behaviour in the library. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

/* C functions returning these through an lwm2mc_result (a uint32_t in C99). */
static const lwm2mc_result ODD[] = {(lwm2mc_result)-1, (lwm2mc_result)13, (lwm2mc_result)99};
#define N_ODD (sizeof ODD / sizeof ODD[0])

/* ---- storage ---- */

typedef struct {
    lwm2mc_result load_result, store_result;
    size_t load_n; /* what load reports as the value's size */
    int loads, stores;
} odd_storage;

static lwm2mc_result os_load(void *ud, const char *key, uint8_t *buf, size_t cap, size_t *out_n) {
    odd_storage *s = ud;
    (void)key;
    (void)buf;
    (void)cap;
    s->loads++;
    *out_n = s->load_n;
    return s->load_result;
}

static lwm2mc_result os_store(void *ud, const char *key, const uint8_t *buf, size_t len) {
    odd_storage *s = ud;
    (void)key;
    (void)buf;
    (void)len;
    s->stores++;
    return s->store_result;
}

static lwm2mc_result os_erase(void *ud, const char *key) {
    (void)ud;
    (void)key;
    return (lwm2mc_result)-1;
}

static lwm2mc_client *client_with_storage(odd_storage *s) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_storage st;
    memset(&st, 0, sizeof st);
    st.userdata = s;
    st.load = os_load;
    st.store = os_store;
    st.erase = os_erase;
    CHECK_OK(lwm2mc_config_new("odd-storage", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "odd", "0001"));
    CHECK_OK(lwm2mc_config_set_storage(cfg, &st));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    return c;
}

/* The client came up on its factory state and said why in a STORAGE_ERROR event. */
static void check_factory_state_with_storage_error(lwm2mc_client *c) {
    lwm2mc_event ev;
    char buf[16];
    size_t n = 0;
    CHECK_OK(lwm2mc_client_next_event(c, &ev));
    CHECK(ev.kind == LWM2MC_EVENT_KIND_STORAGE_ERROR);
    CHECK(strstr(ev.message, "load callback") != NULL);
    CHECK_OK(lwm2mc_client_get_string(c, "/3/0/0", buf, sizeof buf, &n));
    CHECK(n == 4 && strcmp(buf, "ACME") == 0);
}

static void storage_callbacks(void) {
    for (size_t i = 0; i < N_ODD; i++) {
        odd_storage s;
        lwm2mc_client *c;
        memset(&s, 0, sizeof s);
        /* load fails with an odd value: factory state, STORAGE_ERROR event. */
        s.load_result = ODD[i];
        c = client_with_storage(&s);
        CHECK(s.loads >= 1);
        check_factory_state_with_storage_error(c);
        CHECK_RESULT(lwm2mc_client_save(c), LWM2MC_RESULT_STORAGE_ERROR);
        lwm2mc_client_free(c);
        /* store fails with an odd value: the save is refused, the client lives on. */
        memset(&s, 0, sizeof s);
        s.load_result = LWM2MC_RESULT_NOT_FOUND;
        s.store_result = ODD[i];
        c = client_with_storage(&s);
        CHECK_RESULT(lwm2mc_client_save(c), LWM2MC_RESULT_STORAGE_ERROR);
        CHECK(s.stores >= 1);
        CHECK_OK(lwm2mc_client_set_int(c, "/3/0/9", 50));
        s.store_result = LWM2MC_RESULT_OK;
        CHECK_OK(lwm2mc_client_save(c));
        lwm2mc_client_free(c);
    }
    {
        /* A load that asks for an absurd buffer is a failure, not an allocation of it. */
        odd_storage s;
        lwm2mc_client *c;
        memset(&s, 0, sizeof s);
        s.load_result = LWM2MC_RESULT_INSUFFICIENT_SIZE;
        s.load_n = (size_t)-1;
        c = client_with_storage(&s);
        check_factory_state_with_storage_error(c);
        lwm2mc_client_free(c);
        /* One that keeps asking for more than it was given, and one that claims success
         * with more bytes than the buffer holds. */
        memset(&s, 0, sizeof s);
        s.load_result = LWM2MC_RESULT_INSUFFICIENT_SIZE;
        s.load_n = 0;
        c = client_with_storage(&s);
        check_factory_state_with_storage_error(c);
        lwm2mc_client_free(c);
        memset(&s, 0, sizeof s);
        s.load_result = LWM2MC_RESULT_OK;
        s.load_n = 1u << 30;
        c = client_with_storage(&s);
        check_factory_state_with_storage_error(c);
        lwm2mc_client_free(c);
    }
}

/* ---- transport ---- */

static int warnings;
static char last_warning[256];

static void count_warnings(void *ud, uint32_t level, const char *message) {
    (void)ud;
    if (level == LWM2MC_LOG_LEVEL_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", message);
    }
}

static lwm2mc_client *client_with_transport(fake_net *n, const lwm2mc_object_callbacks *cb) {
    static const lwm2mc_resource_def res[] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
        {5750, LWM2MC_TYPE_STRING, LWM2MC_OPERATION_READ | LWM2MC_OPERATION_WRITE, false, false},
        {5800, LWM2MC_TYPE_NONE, LWM2MC_OPERATION_EXECUTE, false, false},
    };
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_transport t = fake_transport(n);
    CHECK_OK(lwm2mc_config_new("odd-transport", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "odd", "0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_OK(lwm2mc_config_set_log(cfg, NULL, count_warnings));
    if (cb != NULL) {
        CHECK_OK(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 3, cb));
    }
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    return c;
}

static void transport_callbacks(void) {
    for (size_t i = 0; i < N_ODD; i++) {
        fake_net n;
        lwm2mc_client *c;
        uint64_t next = 0;
        memset(&n, 0, sizeof n);
        /* open fails with an odd value: nothing is sent, the failure is logged, and the next
         * call tries again. */
        n.open_result = ODD[i];
        c = client_with_transport(&n, NULL);
        warnings = 0;
        CHECK_OK(lwm2mc_client_start(c, 0));
        CHECK(n.opens == 0 && n.sends == 0);
        CHECK(warnings == 1 && strstr(last_warning, "transport open(coap://127.0.0.1:5683) failed") != NULL);
        n.open_result = LWM2MC_RESULT_OK;
        CHECK_OK(lwm2mc_client_step(c, 1, &next));
        CHECK(n.opens == 1);
        /* send fails with an odd value: one lost datagram (the Register's retransmission);
         * the next retransmission goes out. */
        n.send_result = ODD[i];
        CHECK_OK(lwm2mc_client_step(c, 10000, &next));
        CHECK(n.sends == 1 && fake_last_code(&n) == 0x02);
        CHECK(strstr(last_warning, "transport send failed") != NULL);
        {
            uint64_t failures = 0;
            CHECK_OK(lwm2mc_client_send_failures(c, &failures));
            CHECK(failures == 1);
        }
        n.send_result = LWM2MC_RESULT_OK;
        CHECK_OK(lwm2mc_client_step(c, 20000, &next));
        CHECK(n.sends == 2 && fake_last_code(&n) == 0x02);
        fake_accept_register(c, &n, 20001);
        lwm2mc_client_free(c);
        CHECK(n.closes == 1);
    }
}

/* ---- object callbacks ---- */

static lwm2mc_result object_answer; /* what every object callback returns */

static lwm2mc_result ob_instances(void *ud, uint16_t obj, uint16_t *ids, size_t cap, size_t *out_n) {
    (void)ud;
    (void)obj;
    CHECK(cap >= 1);
    ids[0] = 0;
    *out_n = 1;
    return object_answer;
}

static lwm2mc_result ob_read(void *ud, uint16_t obj, uint16_t inst, uint16_t res, lwm2mc_value *out) {
    (void)ud;
    (void)obj;
    (void)inst;
    if (res == 5750) {
        out->type = LWM2MC_TYPE_STRING;
        out->bytes = (const uint8_t *)"lab";
        out->len = 3;
    } else {
        out->type = LWM2MC_TYPE_FLOAT;
        out->floating = 1.5;
    }
    return object_answer;
}

static lwm2mc_result ob_write(void *ud, uint16_t obj, uint16_t inst, uint16_t res, const lwm2mc_value *v) {
    (void)ud;
    (void)obj;
    (void)inst;
    (void)res;
    (void)v;
    return object_answer;
}

static lwm2mc_result ob_execute(void *ud, uint16_t obj, uint16_t inst, uint16_t res, const uint8_t *args, size_t n) {
    (void)ud;
    (void)obj;
    (void)inst;
    (void)res;
    (void)args;
    (void)n;
    return object_answer;
}

static lwm2mc_result ob_instance_op(void *ud, uint16_t obj, uint16_t inst) {
    (void)ud;
    (void)obj;
    (void)inst;
    return object_answer;
}

/* Every operation on the object while its callbacks return `answer`: the codes the server got
 * for Read /3303, Read /3303/0/5700, Write, Execute, Create, Delete. */
static void ask_everything(lwm2mc_client *c, fake_net *n, uint16_t *mid, uint8_t codes[6]) {
    uint8_t req[128];
    size_t len;
    len = coap_request(req, 0x01, (*mid)++, "/3303", -1, NULL, 0);
    codes[0] = fake_ask(c, n, req, len, 30000);
    len = coap_request(req, 0x01, (*mid)++, "/3303/0/5700", -1, NULL, 0);
    codes[1] = fake_ask(c, n, req, len, 30000);
    len = coap_request(req, 0x03, (*mid)++, "/3303/0/5750", 0, (const uint8_t *)"x", 1);
    codes[2] = fake_ask(c, n, req, len, 30000);
    len = coap_request(req, 0x02, (*mid)++, "/3303/0/5800", -1, NULL, 0);
    codes[3] = fake_ask(c, n, req, len, 30000);
    len = coap_request(req, 0x02, (*mid)++, "/3303", 11542, NULL, 0);
    codes[4] = fake_ask(c, n, req, len, 30000);
    len = coap_request(req, 0x04, (*mid)++, "/3303/0", -1, NULL, 0);
    codes[5] = fake_ask(c, n, req, len, 30000);
}

static void object_callbacks(void) {
    fake_net n;
    lwm2mc_client *c;
    lwm2mc_object_callbacks cb;
    uint16_t mid = 0x100;
    uint8_t codes[6];
    memset(&n, 0, sizeof n);
    memset(&cb, 0, sizeof cb);
    cb.instances = ob_instances;
    cb.read = ob_read;
    cb.write = ob_write;
    cb.execute = ob_execute;
    cb.create_instance = ob_instance_op;
    cb.delete_instance = ob_instance_op;
    c = client_with_transport(&n, &cb);
    CHECK_OK(lwm2mc_client_start(c, 0));
    fake_accept_register(c, &n, 1);

    /* Known codes first, as documented: OK, and NOT_FOUND → 4.04. */
    object_answer = LWM2MC_RESULT_OK;
    ask_everything(c, &n, &mid, codes);
    CHECK(codes[0] == 0x45 && codes[1] == 0x45 && codes[2] == 0x44 && codes[3] == 0x44);
    CHECK(codes[4] == 0x41 && codes[5] == 0x42);
    object_answer = LWM2MC_RESULT_NOT_FOUND;
    ask_everything(c, &n, &mid, codes);
    CHECK(codes[1] == 0x84);
    /* Odd values: 5.00 for every operation, and the client keeps serving. */
    for (size_t i = 0; i < N_ODD; i++) {
        object_answer = ODD[i];
        ask_everything(c, &n, &mid, codes);
        for (int k = 0; k < 6; k++) {
            if (codes[k] != 0xA0) {
                fprintf(stderr, "callback result %u, operation %d: answered 0x%02x\n", (unsigned)ODD[i], k, codes[k]);
                exit(1);
            }
        }
    }
    object_answer = LWM2MC_RESULT_OK;
    ask_everything(c, &n, &mid, codes);
    CHECK(codes[1] == 0x45);
    lwm2mc_client_free(c);
}

/* ---- the object's transaction ---- */

static char steps[32];          /* one letter per step: B, V, C, R */
static lwm2mc_result tx_write;  /* what write returns */
static lwm2mc_result tx_validate;

static lwm2mc_result tx_write_cb(void *ud, uint16_t obj, uint16_t inst, uint16_t res, const lwm2mc_value *v) {
    (void)ud;
    (void)obj;
    (void)inst;
    (void)res;
    (void)v;
    strncat(steps, "w", sizeof steps - strlen(steps) - 1);
    return tx_write;
}

static lwm2mc_result tx_step(void *ud, uint16_t obj, uint32_t step) {
    (void)ud;
    CHECK(obj == 3303);
    strncat(steps, step == LWM2MC_TRANSACTION_STEP_BEGIN      ? "B"
                   : step == LWM2MC_TRANSACTION_STEP_VALIDATE ? "V"
                   : step == LWM2MC_TRANSACTION_STEP_COMMIT   ? "C"
                   : step == LWM2MC_TRANSACTION_STEP_ROLLBACK ? "R"
                                                              : "?",
            sizeof steps - strlen(steps) - 1);
    return step == LWM2MC_TRANSACTION_STEP_VALIDATE ? tx_validate : LWM2MC_RESULT_OK;
}

/* A Write runs inside the object's transaction: BEGIN, the write, VALIDATE, COMMIT; a write
 * or a validation the object refuses is the server's 4.00 and a ROLLBACK; a Read begins none. */
static void transaction_callbacks(void) {
    fake_net n;
    lwm2mc_client *c;
    lwm2mc_object_callbacks cb;
    uint8_t req[128];
    size_t len;
    uint16_t mid = 0x300;
    memset(&n, 0, sizeof n);
    memset(&cb, 0, sizeof cb);
    object_answer = LWM2MC_RESULT_OK;
    cb.instances = ob_instances;
    cb.read = ob_read;
    cb.write = tx_write_cb;
    cb.transaction = tx_step;
    c = client_with_transport(&n, &cb);
    CHECK_OK(lwm2mc_client_start(c, 0));
    fake_accept_register(c, &n, 1);
    struct {
        lwm2mc_result write, validate;
        uint8_t code;
        const char *steps;
    } cases[] = {
        {LWM2MC_RESULT_OK, LWM2MC_RESULT_OK, 0x44, "BwVC"},
        {LWM2MC_RESULT_INVALID_ARGUMENT, LWM2MC_RESULT_OK, 0x80, "BwR"},
        {LWM2MC_RESULT_OK, LWM2MC_RESULT_INVALID_ARGUMENT, 0x80, "BwVR"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        steps[0] = 0;
        tx_write = cases[i].write;
        tx_validate = cases[i].validate;
        len = coap_request(req, 0x03, mid++, "/3303/0/5750", 0, (const uint8_t *)"x", 1);
        CHECK(fake_ask(c, &n, req, len, 30000) == cases[i].code);
        if (strcmp(steps, cases[i].steps) != 0) {
            fprintf(stderr, "case %zu: steps %s, expected %s\n", i, steps, cases[i].steps);
            exit(1);
        }
    }
    steps[0] = 0;
    len = coap_request(req, 0x01, mid++, "/3303/0/5750", -1, NULL, 0);
    CHECK(fake_ask(c, &n, req, len, 30000) == 0x45);
    CHECK(steps[0] == 0);
    lwm2mc_client_free(c);
}

int main(void) {
    storage_callbacks();
    transport_callbacks();
    object_callbacks();
    transaction_callbacks();
    printf("callback codes: ok\n");
    return 0;
}
