/* Config validation: a duplicate Short Server ID and a second Bootstrap-Server account are
 * refused with ALREADY_EXISTS and change nothing; lwm2mc_config_set_storage(cfg, NULL) means
 * no storage again, as the header says; lwm2mc_config_set_psk writes Security Mode 0 and the
 * keys of the account it names, and its refusals change nothing. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"

static int loads;

static lwm2mc_result count_load(void *ud, const char *key, uint8_t *buf, size_t cap, size_t *out_n) {
    (void)ud;
    (void)key;
    (void)buf;
    (void)cap;
    (void)out_n;
    loads++;
    return LWM2MC_RESULT_NOT_FOUND;
}

static lwm2mc_result ignore_store(void *ud, const char *key, const uint8_t *buf, size_t len) {
    (void)ud;
    (void)key;
    (void)buf;
    (void)len;
    return LWM2MC_RESULT_OK;
}

static void check_string(lwm2mc_client *c, const char *path, const char *want) {
    char buf[64];
    size_t n = 0;
    CHECK_OK(lwm2mc_client_get_string(c, path, buf, sizeof buf, &n));
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "%s is \"%s\", expected \"%s\"\n", path, buf, want);
        exit(1);
    }
}

static void check_absent(lwm2mc_client *c, const char *path) {
    lwm2mc_value v;
    CHECK_RESULT(lwm2mc_client_get_value(c, path, &v), LWM2MC_RESULT_NOT_FOUND);
}

static void accounts_are_checked(void) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_value v;
    CHECK_OK(lwm2mc_config_new("config-checks", &cfg));
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, "coap://127.0.0.1:5783", 0));   /* /0/0 */
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));       /* /0/1, /1/0 */
    /* The refusals. */
    CHECK_RESULT(lwm2mc_config_add_bootstrap_server(cfg, "coap://127.0.0.1:5784", 0), LWM2MC_RESULT_ALREADY_EXISTS);
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5685", 30), LWM2MC_RESULT_ALREADY_EXISTS);
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60), LWM2MC_RESULT_ALREADY_EXISTS);
    /* Another ID is fine. */
    CHECK_OK(lwm2mc_config_add_server(cfg, 2, "coap://127.0.0.1:5686", 90));       /* /0/2, /1/1 */
    CHECK_RESULT(lwm2mc_config_add_server(cfg, 2, "coap://127.0.0.1:5687", 90), LWM2MC_RESULT_ALREADY_EXISTS);
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "checks", "0001"));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    /* Exactly what the accepted calls made. */
    check_string(c, "/0/0/0", "coap://127.0.0.1:5783");
    check_string(c, "/0/1/0", "coap://127.0.0.1:5683");
    check_string(c, "/0/2/0", "coap://127.0.0.1:5686");
    check_absent(c, "/0/3/0");
    CHECK_OK(lwm2mc_client_get_value(c, "/1/0/1", &v));
    CHECK(v.type == LWM2MC_TYPE_INTEGER && v.integer == 60);
    CHECK_OK(lwm2mc_client_get_value(c, "/1/1/0", &v));
    CHECK(v.integer == 2);
    check_absent(c, "/1/2/0");
    lwm2mc_client_free(c);
    lwm2mc_config_free(cfg);
}

static void null_storage_means_none(void) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_storage st;
    memset(&st, 0, sizeof st);
    st.load = count_load;
    st.store = ignore_store;
    CHECK_OK(lwm2mc_config_new("storage-null", &cfg));
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, "coap://127.0.0.1:5783", 0));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "checks", "0001"));
    /* A hook, then NULL: no storage. */
    CHECK_OK(lwm2mc_config_set_storage(cfg, &st));
    CHECK_OK(lwm2mc_config_set_storage(cfg, NULL));
    loads = 0;
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    CHECK(loads == 0);
    CHECK_OK(lwm2mc_client_save(c)); /* nothing to save to: a no-op */
    lwm2mc_client_free(c);
    /* File storage, then NULL: no storage either (the directory is never made). */
    CHECK_OK(lwm2mc_config_use_file_storage(cfg, "/nonexistent/lwm2mc-must-not-be-created"));
    CHECK_OK(lwm2mc_config_set_storage(cfg, NULL));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_client_free(c);
    /* A table without load is refused and keeps the storage that was set. */
    CHECK_OK(lwm2mc_config_set_storage(cfg, &st));
    st.load = NULL;
    CHECK_RESULT(lwm2mc_config_set_storage(cfg, &st), LWM2MC_RESULT_INVALID_ARGUMENT);
    loads = 0;
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    CHECK(loads >= 1);
    lwm2mc_client_free(c);
    lwm2mc_config_free(cfg);
}

static void check_bytes(lwm2mc_client *c, const char *path, const uint8_t *want, size_t n) {
    lwm2mc_value v;
    CHECK_OK(lwm2mc_client_get_value(c, path, &v));
    CHECK(v.type == LWM2MC_TYPE_OPAQUE && v.len == n && memcmp(v.bytes, want, n) == 0);
}

static void check_integer(lwm2mc_client *c, const char *path, int64_t want) {
    lwm2mc_value v;
    CHECK_OK(lwm2mc_client_get_value(c, path, &v));
    CHECK(v.type == LWM2MC_TYPE_INTEGER && v.integer == want);
}

static void psk_is_checked(void) {
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t bs_key[4] = {0xb5, 0xb5, 0xb5, 0xb5};
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    CHECK_RESULT(lwm2mc_config_set_psk(NULL, 0, (const uint8_t *)"id", 2, key, 16), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_OK(lwm2mc_config_new("psk-checks", &cfg));
    /* No account to name yet. */
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 0, (const uint8_t *)"id", 2, key, 16), LWM2MC_RESULT_NOT_FOUND);
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, "coaps://127.0.0.1:5784", 0)); /* /0/0 */
    CHECK_OK(lwm2mc_config_add_server(cfg, 9, "coaps://127.0.0.1:5684", 60));      /* /0/1 */
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 8, (const uint8_t *)"id", 2, key, 16), LWM2MC_RESULT_NOT_FOUND);
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 65535, (const uint8_t *)"id", 2, key, 16),
                 LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 9, (const uint8_t *)"id", 0, key, 16), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 9, (const uint8_t *)"id", 2, key, 0), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 9, NULL, 2, key, 16), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_RESULT(lwm2mc_config_set_psk(cfg, 9, (const uint8_t *)"id", 2, NULL, 16), LWM2MC_RESULT_NULL_PARAMETER);
    /* Short Server ID 0 is the Bootstrap-Server account; then server 9's. */
    CHECK_OK(lwm2mc_config_set_psk(cfg, 0, (const uint8_t *)"bs-id", 5, bs_key, sizeof bs_key));
    CHECK_OK(lwm2mc_config_set_psk(cfg, 9, (const uint8_t *)"dm-id", 5, key, sizeof key));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "checks", "0001"));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    check_integer(c, "/0/0/2", 0);
    check_bytes(c, "/0/0/3", (const uint8_t *)"bs-id", 5);
    check_bytes(c, "/0/0/5", bs_key, sizeof bs_key);
    check_integer(c, "/0/1/2", 0);
    check_integer(c, "/0/1/10", 9);
    check_bytes(c, "/0/1/3", (const uint8_t *)"dm-id", 5);
    check_bytes(c, "/0/1/5", key, sizeof key);
    lwm2mc_client_free(c);
    lwm2mc_config_free(cfg);
}

int main(void) {
    accounts_are_checked();
    null_storage_means_none();
    psk_is_checked();
    printf("config checks: ok\n");
    return 0;
}
