/* The core/worker message codec (core/ipc.c) and the sandbox's crash text. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"
#include "result.h"
#include "sandbox.h"

static int decode(const char *text, int dir, int *type)
{
    json_t *m = NULL;
    char err[256];
    int rc = ipc_decode(text, strlen(text), dir, &m, type, err, sizeof(err));
    json_decref(m);
    return rc;
}

static void test_ipc_accepts_a_well_formed_call(void **st)
{
    (void)st;
    int type = 0;
    assert_int_equal(decode("{\"v\":1,\"type\":\"call\",\"tool\":\"t\",\"args\":{\"a\":[1]},"
                            "\"ctx\":{\"principal\":\"ada\"}}",
                            IPC_TO_WORKER, &type),
                     0);
    assert_int_equal(type, IPC_CALL);
}

static void test_ipc_rejects_other_versions_and_types(void **st)
{
    (void)st;
    int type;
    assert_int_equal(decode("{\"v\":2,\"type\":\"result\",\"result\":null}", IPC_TO_CORE, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"type\":\"result\",\"result\":null}", IPC_TO_CORE, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"shell\"}", IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("[1,2]", IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"result\",\"result\":null} x", IPC_TO_CORE,
                            &type),
                     DC_EINVAL);
}

static void test_ipc_rejects_unknown_missing_and_mistyped_members(void **st)
{
    (void)st;
    int type;
    assert_int_equal(decode("{\"v\":1,\"type\":\"result\",\"result\":null,\"x\":1}", IPC_TO_CORE,
                            &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"error\",\"code\":\"E-X\"}", IPC_TO_CORE, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"query\",\"id\":-1,\"db\":null,\"sql\":\"s\","
                            "\"params\":[]}",
                            IPC_TO_CORE, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"query\",\"id\":1,\"db\":null,\"sql\":\"s\","
                            "\"params\":[{\"a\":1}]}",
                            IPC_TO_CORE, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"result\",\"result\":null,\"result\":\"{}\"}",
                            IPC_TO_CORE, &type),
                     DC_EINVAL);
}

static void test_ipc_refuses_a_message_sent_the_wrong_way(void **st)
{
    (void)st;
    int type;
    const char *call = "{\"v\":1,\"type\":\"call\",\"tool\":\"t\",\"args\":{},\"ctx\":{}}";
    assert_int_equal(decode(call, IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode(call, IPC_TO_WORKER, &type), 0);
}

static void test_ipc_rows_need_error_or_all_of_cols_rows_truncated(void **st)
{
    (void)st;
    int type;
    assert_int_equal(decode("{\"v\":1,\"type\":\"rows\",\"id\":1,\"cols\":[[\"a\",1]],"
                            "\"rows\":[[1],[2,3]],\"truncated\":false}",
                            IPC_TO_WORKER, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"rows\",\"id\":1,\"cols\":[[\"a\",1]]}",
                            IPC_TO_WORKER, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"rows\",\"id\":1}", IPC_TO_WORKER, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"rows\",\"id\":1,\"error\":{\"code\":\"E-G\","
                            "\"message\":\"no\"}}",
                            IPC_TO_WORKER, &type),
                     0);
    assert_int_equal(decode("{\"v\":1,\"type\":\"rows\",\"id\":1,\"cols\":[[\"b\",4]],\"rows\":"
                            "[[[4,\"abc\"]]],\"truncated\":false}",
                            IPC_TO_WORKER, &type),
                     DC_EINVAL); /* odd-length hex blob */
}

static void test_ipc_refuses_oversized_input(void **st)
{
    (void)st;
    size_t n = IPC_MAX_MSG + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    json_t *m = NULL;
    int type;
    char err[256];
    assert_int_equal(ipc_decode(big, n, IPC_TO_CORE, &m, &type, err, sizeof(err)), DC_ELIMIT);
    assert_null(m);
    free(big);
}

static void test_ipc_rows_round_trip_every_value_type(void **st)
{
    (void)st;
    struct dc_result *r = result_new();
    assert_non_null(r);
    assert_int_equal(result_add_column(r, "i", DC_INT, NULL), 0);
    assert_int_equal(result_add_column(r, "t", DC_TEXT, NULL), 0);
    assert_int_equal(result_add_column(r, "b", DC_BLOB, NULL), 0);
    assert_int_equal(result_add_column(r, "d", DC_DATE, NULL), 0);
    assert_int_equal(result_add_column(r, "r", DC_REAL, NULL), 0);
    struct dc_value row[5] = {dc_value_int(-7), dc_value_text("h\xc3\xa9", 3), {0},
                              {0}, dc_value_real(2.5)};
    row[2].type = DC_BLOB;
    row[2].v.s.p = "\x00\xff";
    row[2].v.s.n = 2;
    row[3].type = DC_DATE;
    row[3].v.s.p = "2024-01-31";
    row[3].v.s.n = 10;
    assert_int_equal(result_append_row(r, row, 5), 0);
    struct dc_value nulls[5] = {DC_VALUE_NULL, DC_VALUE_NULL, DC_VALUE_NULL, DC_VALUE_NULL,
                                DC_VALUE_NULL};
    assert_int_equal(result_append_row(r, nulls, 5), 0);
    result_set_truncated(r, 1);

    json_t *m = ipc_msg_new(IPC_ROWS);
    assert_non_null(m);
    assert_int_equal(json_object_set_new(m, "id", json_integer(3)), 0);
    assert_int_equal(ipc_rows_put(m, r), 0);
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    assert_non_null(text);
    int type;
    char err[256];
    assert_int_equal(ipc_decode(text, strlen(text), IPC_TO_WORKER, &m, &type, err, sizeof(err)),
                     0);
    free(text);
    struct dc_result *back = NULL;
    assert_int_equal(ipc_rows_get(m, &back, err, sizeof(err)), 0);
    json_decref(m);
    assert_int_equal(result_ncols(back), 5);
    assert_int_equal(result_nrows(back), 2);
    assert_true(result_truncated(back));
    assert_int_equal(result_get(back, 0, 0)->v.i, -7);
    assert_int_equal(result_get(back, 0, 1)->v.s.n, 3);
    assert_memory_equal(result_get(back, 0, 2)->v.s.p, "\x00\xff", 2);
    assert_int_equal(result_get(back, 0, 2)->type, DC_BLOB);
    assert_int_equal(result_get(back, 0, 3)->type, DC_DATE);
    assert_true(result_get(back, 0, 4)->v.d == 2.5);
    assert_int_equal(result_get(back, 1, 1)->type, DC_NULL);
    result_free(back);
    result_free(r);
}

static void test_ipc_recv_reports_an_oversized_packet(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    int sz = (int)IPC_MAX_MSG * 2;
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    size_t n = IPC_MAX_MSG + 10;
    char *big = calloc(1, n);
    char *buf = malloc(IPC_MAX_MSG + 1);
    assert_non_null(big);
    assert_non_null(buf);
    assert_int_equal(send(sv[1], big, n, 0), (ssize_t)n);
    size_t got = 0;
    char err[256];
    assert_int_equal(ipc_recv(sv[0], buf, IPC_MAX_MSG + 1, 1000, &got, err, sizeof(err)),
                     DC_ELIMIT);
    assert_int_equal(got, n);
    json_t *m = ipc_msg_new(IPC_RESULT);
    assert_int_equal(json_object_set_new(m, "result", json_null()), 0);
    assert_int_equal(ipc_send(sv[1], m, err, sizeof(err)), 0);
    json_decref(m);
    assert_int_equal(ipc_recv(sv[0], buf, IPC_MAX_MSG + 1, 1000, &got, err, sizeof(err)), 0);
    int type;
    assert_int_equal(ipc_decode(buf, got, IPC_TO_CORE, &m, &type, err, sizeof(err)), 0);
    assert_int_equal(type, IPC_RESULT);
    json_decref(m);
    assert_int_equal(ipc_recv(sv[0], buf, IPC_MAX_MSG + 1, 10, &got, err, sizeof(err)),
                     DC_ETIMEOUT);
    close(sv[1]);
    assert_int_equal(ipc_recv(sv[0], buf, IPC_MAX_MSG + 1, 1000, &got, err, sizeof(err)),
                     DC_EIO);
    close(sv[0]);
    free(big);
    free(buf);
}

static void test_ipc_http_reply_needs_error_or_status_and_body(void **st)
{
    (void)st;
    int type = 0;
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1,\"status\":200,"
                            "\"body\":\"x\"}", IPC_TO_WORKER, &type), DC_OK);
    assert_int_equal(type, IPC_HTTP_REPLY);
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1,\"error\":{\"code\":"
                            "\"E-X\",\"message\":\"m\"}}", IPC_TO_WORKER, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1}", IPC_TO_WORKER,
                            &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1,\"status\":200}",
                            IPC_TO_WORKER, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1,\"status\":200,"
                            "\"body\":\"x\",\"error\":{\"code\":\"E-X\",\"message\":\"m\"}}",
                            IPC_TO_WORKER, &type), DC_EINVAL);
    /* a worker asks; it never answers its own request */
    assert_int_equal(decode("{\"v\":1,\"type\":\"http_reply\",\"id\":1,\"status\":200,"
                            "\"body\":\"x\"}", IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"http\",\"id\":2,\"method\":\"GET\",\"url\":"
                            "\"https://a.example/\",\"body\":null}", IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"log\",\"level\":1,\"message\":\"m\"}",
                            IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(type, IPC_LOG);
    assert_int_equal(decode("{\"v\":1,\"type\":\"log\",\"level\":\"warn\",\"message\":\"m\"}",
                            IPC_TO_CORE, &type), DC_EINVAL);
}

static void test_ipc_stage_messages_are_checked_both_ways(void **st)
{
    (void)st;
    int type = 0;
    assert_int_equal(decode("{\"v\":1,\"type\":\"stage\",\"stage\":\"s\",\"ctx\":{}}",
                            IPC_TO_WORKER, &type), DC_OK);
    assert_int_equal(type, IPC_STAGE);
    assert_int_equal(decode("{\"v\":1,\"type\":\"outcome\",\"outcome\":\"yes\"}",
                            IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(type, IPC_OUTCOME);
    /* the worker never starts a stage, the core never reports an outcome */
    assert_int_equal(decode("{\"v\":1,\"type\":\"stage\",\"stage\":\"s\",\"ctx\":{}}",
                            IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"outcome\",\"outcome\":\"yes\"}",
                            IPC_TO_WORKER, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"emit\",\"key\":\"k\",\"value\":null}",
                            IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"emit\",\"key\":\"k\"}", IPC_TO_CORE,
                            &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"emit\",\"key\":\"k\",\"value\":{}}",
                            IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"get\",\"id\":1,\"key\":\"q\"}",
                            IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"value\",\"id\":1,\"value\":null}",
                            IPC_TO_WORKER, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"value\",\"id\":1}", IPC_TO_WORKER, &type),
                     DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"value\",\"id\":1,\"value\":\"x\","
                            "\"error\":{\"code\":\"E-X\",\"message\":\"m\"}}",
                            IPC_TO_WORKER, &type), DC_EINVAL);
}

static void test_ipc_ready_declarations_are_checked(void **st)
{
    (void)st;
    int type = 0;
    assert_int_equal(decode("{\"v\":1,\"type\":\"ready\",\"name\":\"s\",\"outcomes\":"
                            "[\"a\"],\"defines\":[\"run\"],\"options\":[{\"name\":\"n\","
                            "\"type\":2,\"required\":true,\"default\":null,\"help\":\"h\"}]}",
                            IPC_TO_CORE, &type), DC_OK);
    assert_int_equal(decode("{\"v\":1,\"type\":\"ready\",\"name\":\"s\",\"outcomes\":[1]}",
                            IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"ready\",\"name\":\"s\",\"options\":"
                            "[{\"name\":\"n\",\"type\":2}]}", IPC_TO_CORE, &type), DC_EINVAL);
    assert_int_equal(decode("{\"v\":1,\"type\":\"ready\",\"name\":\"s\",\"options\":"
                            "[{\"name\":\"n\",\"type\":2,\"required\":1,\"default\":null,"
                            "\"help\":null}]}", IPC_TO_CORE, &type), DC_EINVAL);
}

static void test_sandbox_names_the_signal_that_killed_the_worker(void **st)
{
    (void)st;
    char out[200];
    sandbox_describe_status(SIGSYS, out, sizeof(out)); /* a wait status for "killed by 31" */
    assert_non_null(strstr(out, "killed by SIGSYS (seccomp): the tool made a forbidden system call"));
    sandbox_describe_status(SIGSEGV, out, sizeof(out));
    assert_non_null(strstr(out, "killed by SIGSEGV"));
    sandbox_describe_status(3 << 8, out, sizeof(out)); /* exit(3) */
    assert_non_null(strstr(out, "exited with status 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipc_accepts_a_well_formed_call),
        cmocka_unit_test(test_ipc_rejects_other_versions_and_types),
        cmocka_unit_test(test_ipc_rejects_unknown_missing_and_mistyped_members),
        cmocka_unit_test(test_ipc_refuses_a_message_sent_the_wrong_way),
        cmocka_unit_test(test_ipc_rows_need_error_or_all_of_cols_rows_truncated),
        cmocka_unit_test(test_ipc_refuses_oversized_input),
        cmocka_unit_test(test_ipc_rows_round_trip_every_value_type),
        cmocka_unit_test(test_ipc_recv_reports_an_oversized_packet),
        cmocka_unit_test(test_ipc_http_reply_needs_error_or_status_and_body),
        cmocka_unit_test(test_ipc_stage_messages_are_checked_both_ways),
        cmocka_unit_test(test_ipc_ready_declarations_are_checked),
        cmocka_unit_test(test_sandbox_names_the_signal_that_killed_the_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
