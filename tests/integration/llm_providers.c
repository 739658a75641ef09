/*
 * The LLM provider plugins (llm-openai, llm-anthropic) loaded by the real
 * registry, configured from YAML, initialised with the real host table and
 * driven through llms_complete against the scripted loopback fake_llm. Each
 * test starts its own fake with its own script and reads back what the
 * plugin sent. Every test also checks that the API key reached the server
 * and never reached a log line, a trace note, an error or a context value.
 *
 *   llm_providers BUILD_DIR
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ctx.h"
#include "llm.h"
#include "registry.h"
#include "util.h"

#define KEY "sk-test-Q7rT9xZ2-never-log-me"

static const char *g_build;
static char g_tmp[256];

struct fake {
    pid_t pid;
    int port;
    char record[512];
};

struct env {
    struct fake fake;
    struct dc_config *cfg;
    struct registry *reg;
    struct llmset *llms;
    struct dc_ctx *ctx;
    struct sbuf logs;
    int64_t elapsed_us;
    int rc;
};

static void log_sink(void *arg, int level, const char *plugin, const char *msg)
{
    struct sbuf *b = arg;
    sbuf_addf(b, "%d %s %s\n", level, plugin, msg);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void fake_start(struct fake *f, const char *script)
{
    static int seq;
    char spath[512], exe[512];
    seq++;
    snprintf(spath, sizeof(spath), "%s/script-%d.json", g_tmp, seq);
    snprintf(f->record, sizeof(f->record), "%s/record-%d.jsonl", g_tmp, seq);
    snprintf(exe, sizeof(exe), "%s/tests/fake_llm", g_build);
    write_file(spath, script);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        /* A failed assertion skips fake_stop: the fake must not outlive us. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(exe, exe, "--script", spath, "--record", f->record, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[32] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    f->port = atoi(buf);
    assert_true(f->port > 0);
}

static void fake_stop(struct fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    char err[256];
    if (util_read_file(path, 64 << 20, &text, &len, err, sizeof(err)) != DC_OK)
        return strdup("");
    return text;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static const struct dc_plugin_descriptor *lookup(void *arg, int kind, const char *name)
{
    const struct dc_plugin_ref *p = registry_resolve(arg, kind, name);
    return p ? p->desc : NULL;
}

/* Loads `llm:` YAML whose "PORT" is replaced by the fake's port. */
static int env_load(struct env *e, const char *llm_yaml, char *err, size_t errlen)
{
    struct sbuf y;
    sbuf_init(&y);
    sbuf_adds(&y, "version: 1\npipeline:\n  entry: reply\n  stages:\n    reply: {use: answer}\n"
                  "llm:\n");
    for (const char *p = llm_yaml; *p; p++) {
        if (strncmp(p, "PORT", 4) == 0) {
            sbuf_addf(&y, "%d", e->fake.port);
            p += 3;
        } else {
            sbuf_add(&y, p, 1);
        }
    }
    struct cfg_diags *dg = calloc(1, sizeof(*dg));
    assert_non_null(dg);
    int rc = config_load_string(y.p, y.len, "test.yaml", &e->cfg, dg);
    if (rc == DC_OK) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/plugins", g_build);
        assert_int_equal(registry_new(&e->reg), DC_OK);
        assert_int_equal(registry_add_dir(e->reg, dir), DC_OK);
        rc = config_resolve(e->cfg, lookup, e->reg, dg);
    }
    if (rc != DC_OK && dg->n)
        config_diag_format(&dg->d[0], err, errlen);
    if (rc == DC_OK)
        rc = llms_new(e->cfg, e->reg, log_sink, &e->logs, DC_LOG_DEBUG, &e->llms, err, errlen);
    free(dg);
    sbuf_free(&y);
    return rc;
}

static void env_setup(struct env *e, const char *script, const char *llm_yaml)
{
    char err[1024] = "";
    memset(e, 0, sizeof(*e));
    sbuf_init(&e->logs);
    fake_start(&e->fake, script);
    int rc = env_load(e, llm_yaml, err, sizeof(err));
    if (rc != DC_OK)
        fail_msg("loading the llm config failed: %s", err);
    e->ctx = ctx_new(NULL);
    assert_non_null(e->ctx);
}

static int env_ask(struct env *e, const char *name, const char *request)
{
    assert_int_equal(ctx_trace_begin(e->ctx, "sqlgen", "test"), DC_OK);
    int64_t t0 = util_now_us();
    e->rc = llms_complete(e->llms, name, e->ctx, request);
    e->elapsed_us = util_now_us() - t0;
    ctx_trace_end(e->ctx, e->rc == DC_OK ? "ok" : NULL, e->elapsed_us);
    return e->rc;
}

static const char *trace_reason(struct env *e)
{
    const struct trace_step *s = ctx_trace_at(e->ctx, ctx_ntrace(e->ctx) - 1);
    return s && s->reason ? s->reason : "";
}

/* The key may only ever appear in what the server received. */
static void assert_key_kept(struct env *e)
{
    const char *keys[] = {"llm.reply", "llm.usage", NULL};
    assert_null(strstr(e->logs.p ? e->logs.p : "", KEY));
    for (size_t i = 0; i < ctx_ntrace(e->ctx); i++) {
        const struct trace_step *s = ctx_trace_at(e->ctx, i);
        assert_null(s->reason ? strstr(s->reason, KEY) : NULL);
    }
    const char *m = ctx_error_message(e->ctx);
    assert_null(m ? strstr(m, KEY) : NULL);
    for (size_t i = 0; keys[i]; i++) {
        const char *v = ctx_get(e->ctx, keys[i]);
        assert_null(v ? strstr(v, KEY) : NULL);
    }
}

static void env_free(struct env *e)
{
    fake_stop(&e->fake);
    assert_key_kept(e);
    ctx_free(e->ctx);
    llms_free(e->llms);
    registry_free(e->reg);
    config_free(e->cfg);
    sbuf_free(&e->logs);
}

static void assert_code(struct env *e, const char *code)
{
    const char *got = ctx_error_code(e->ctx);
    if (!got || strcmp(got, code) != 0)
        fail_msg("expected %s, got %s: %s", code, got ? got : "(none)",
                 ctx_error_message(e->ctx) ? ctx_error_message(e->ctx) : "");
    assert_true(e->rc < 0);
}

#define OPENAI_OK                                                                            \
    "{\"json\":{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"SELECT 1\"},"  \
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3}}}"
#define OPENAI_CONF                                                                          \
    "  default: {provider: openai, base_url: 'http://127.0.0.1:PORT/v1', model: m1,"          \
    " api_key_env: DC_TEST_LLM_KEY, retries: 2, backoff_ms: 10, idle_timeout_ms: 1000,"      \
    " timeout_ms: 20000}\n"
#define ASK "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"                   \
            "{\"role\":\"user\",\"content\":\"how many orders?\"}]}"
#define ASK_STREAM "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static void test_openai_valid_answer_sets_reply_usage_and_sends_key(void **state)
{
    struct env e;
    env_setup(&e, "[" OPENAI_OK "]", OPENAI_CONF);
    assert_int_equal(env_ask(&e, NULL, ASK), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "llm.reply"), "SELECT 1");
    const char *u = ctx_get(e.ctx, "llm.usage");
    assert_non_null(u);
    assert_non_null(strstr(u, "\"input_tokens\":10"));
    assert_non_null(strstr(u, "\"output_tokens\":3"));
    assert_non_null(strstr(u, "\"latency_ms\":"));
    assert_non_null(strstr(u, "\"attempts\":1"));
    assert_non_null(strstr(trace_reason(&e), "10+3 tokens"));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_int_equal(count_lines(rec), 1);
    assert_non_null(strstr(rec, "\"path\":\"/v1/chat/completions\""));
    assert_non_null(strstr(rec, "\"authorization\":\"Bearer " KEY "\""));
    assert_non_null(strstr(rec, "\\\"model\\\":\\\"m1\\\""));
    assert_non_null(strstr(rec, "how many orders?"));
    assert_null(strstr(rec, "response_format"));
    free(rec);
    env_free(&e);
}

static void test_openai_streaming_joins_deltas_and_reads_usage(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"sse\":[\"data: {\\\"choices\\\":[{\\\"delta\\\":{\\\"content\\\":\\\"SEL\\\"}}]}\","
              "\": keep-alive\","
              "\"data: {\\\"choices\\\":[{\\\"delta\\\":{\\\"content\\\":\\\"ECT 2\\\"},"
              "\\\"finish_reason\\\":\\\"stop\\\"}]}\","
              "\"data: {\\\"choices\\\":[],\\\"usage\\\":{\\\"prompt_tokens\\\":7,"
              "\\\"completion_tokens\\\":2}}\",\"data: [DONE]\"]}]",
              OPENAI_CONF);
    assert_int_equal(env_ask(&e, NULL, ASK_STREAM), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "llm.reply"), "SELECT 2");
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"input_tokens\":7"));
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"stream\":true"));
    assert_non_null(strstr(trace_reason(&e), "streamed"));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_non_null(strstr(rec, "include_usage"));
    assert_non_null(strstr(rec, "\"accept\":\"text/event-stream\""));
    free(rec);
    env_free(&e);
}

static void test_openai_json_mode_sends_response_format(void **state)
{
    struct env e;
    env_setup(&e, "[" OPENAI_OK "]", OPENAI_CONF);
    assert_int_equal(env_ask(&e, NULL,
                             "{\"json\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
                     DC_OK);
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_non_null(strstr(rec, "json_object"));
    free(rec);
    env_free(&e);
}

static void test_429_with_retry_after_waits_then_succeeds(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"status\":429,\"headers\":{\"Retry-After\":\"1\"},"
              "\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"slow down\\\"}}\"}," OPENAI_OK "]",
              OPENAI_CONF);
    assert_int_equal(env_ask(&e, NULL, ASK), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "llm.reply"), "SELECT 1");
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"attempts\":2"));
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"retry_wait_ms\":1000"));
    assert_true(e.elapsed_us >= 950000); /* Retry-After: 1, not backoff_ms: 10 */
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_int_equal(count_lines(rec), 2);
    free(rec);
    env_free(&e);
}

static void test_500s_beyond_the_retry_budget_fail_clearly(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"status\":500,\"body\":\"oops\"},{\"status\":502,\"body\":\"oops\"},"
              "{\"status\":503,\"body\":\"{\\\"error\\\":\\\"overloaded\\\"}\"}," OPENAI_OK "]",
              OPENAI_CONF);
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-RETRIES-EXHAUSTED");
    assert_non_null(strstr(ctx_error_message(e.ctx), "HTTP 503"));
    assert_non_null(strstr(ctx_error_message(e.ctx), "overloaded"));
    assert_non_null(strstr(ctx_error_message(e.ctx), "3 attempts"));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_int_equal(count_lines(rec), 3); /* 1 + retries: 2, the 4th entry unused */
    free(rec);
    env_free(&e);
}

static void test_hung_stream_fires_the_idle_timeout(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"hang_after\":1,\"sse\":[\"data: {\\\"choices\\\":[{\\\"delta\\\":"
              "{\\\"content\\\":\\\"SEL\\\"}}]}\",\"data: [DONE]\"]}]",
              OPENAI_CONF);
    env_ask(&e, NULL, ASK_STREAM);
    assert_code(&e, "E-LLM-STREAM-IDLE");
    assert_non_null(strstr(ctx_error_message(e.ctx), "idle_timeout_ms (1000 ms)"));
    assert_true(e.elapsed_us < 8000000); /* not the fake's 30 s hang */
    env_free(&e);
}

static void test_malformed_json_answer_is_a_clear_error(void **state)
{
    struct env e;
    env_setup(&e, "[{\"body\":\"{\\\"choices\\\": [ {\\\"message\\\": \"}]", OPENAI_CONF);
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-BAD-REPLY");
    assert_non_null(strstr(ctx_error_message(e.ctx), "not a JSON object"));
    env_free(&e);
}

static void test_malformed_stream_event_is_a_clear_error(void **state)
{
    struct env e;
    env_setup(&e, "[{\"sse\":[\"data: {not json\",\"data: [DONE]\"]}]", OPENAI_CONF);
    env_ask(&e, NULL, ASK_STREAM);
    assert_code(&e, "E-LLM-BAD-REPLY");
    env_free(&e);
}

static void test_ten_megabyte_answer_is_refused_not_buffered(void **state)
{
    struct env e;
    env_setup(&e, "[{\"repeat\":{\"text\":\"abcdefgh\",\"bytes\":10485760}}]", OPENAI_CONF);
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-TOO-LARGE");
    assert_non_null(strstr(ctx_error_message(e.ctx), "max_response_bytes (4194304"));
    env_free(&e);
}

static void test_missing_api_key_env_fails_before_any_request(void **state)
{
    struct env e;
    env_setup(&e, "[" OPENAI_OK "]",
              "  default: {provider: openai, base_url: 'http://127.0.0.1:PORT/v1', model: m1,"
              " api_key_env: DC_TEST_LLM_UNSET_KEY}\n");
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-NO-KEY");
    assert_non_null(strstr(ctx_error_message(e.ctx), "DC_TEST_LLM_UNSET_KEY"));
    assert_non_null(strstr(ctx_error_message(e.ctx), "not set"));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_int_equal(count_lines(rec), 0);
    free(rec);
    env_free(&e);
}

static void test_unreachable_base_url_is_a_clear_error(void **state)
{
    struct env e;
    env_setup(&e, "[]",
              "  default: {provider: openai, base_url: 'http://127.0.0.1:1/v1', model: m1,"
              " connect_timeout_ms: 2000}\n");
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-UNREACHABLE");
    assert_non_null(strstr(ctx_error_message(e.ctx), "127.0.0.1:1"));
    assert_non_null(strstr(ctx_error_message(e.ctx), "base_url"));
    env_free(&e);
}

static void test_unknown_model_404_names_the_model(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"status\":404,\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"model 'm1' not "
              "found\\\",\\\"type\\\":\\\"not_found_error\\\"}}\"}]",
              OPENAI_CONF);
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-NOT-FOUND");
    assert_non_null(strstr(ctx_error_message(e.ctx), "model 'm1'"));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_int_equal(count_lines(rec), 1); /* a 404 is not retried */
    free(rec);
    env_free(&e);
}

static void test_key_echoed_by_the_server_is_redacted(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"status\":401,\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"bad key " KEY
              "\\\"}}\"}]",
              OPENAI_CONF);
    env_ask(&e, NULL, ASK);
    assert_code(&e, "E-LLM-AUTH");
    assert_non_null(strstr(ctx_error_message(e.ctx), "[redacted]"));
    assert_non_null(strstr(ctx_error_message(e.ctx), "DC_TEST_LLM_KEY"));
    env_free(&e); /* asserts the key is nowhere */
}

static void test_bad_request_json_is_rejected_before_sending(void **state)
{
    struct env e;
    env_setup(&e, "[" OPENAI_OK "]", OPENAI_CONF);
    env_ask(&e, NULL, "{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}");
    assert_code(&e, "E-LLM-REQUEST");
    assert_non_null(strstr(ctx_error_message(e.ctx), "messages[0]"));
    env_free(&e);
}

#define ANTHROPIC_CONF                                                                        \
    "  claude: {provider: anthropic, base_url: 'http://127.0.0.1:PORT', model: c1,"           \
    " api_key_env: DC_TEST_LLM_KEY, idle_timeout_ms: 1000}\n"

static void test_anthropic_valid_answer_moves_system_and_sends_key(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"json\":{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":"
              "\"SELECT 3\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":12,"
              "\"output_tokens\":4}}}]",
              ANTHROPIC_CONF);
    assert_int_equal(env_ask(&e, "claude", ASK), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "llm.reply"), "SELECT 3");
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"input_tokens\":12"));
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"finish_reason\":\"end_turn\""));
    fake_stop(&e.fake);
    char *rec = slurp(e.fake.record);
    assert_non_null(strstr(rec, "\"path\":\"/v1/messages\""));
    assert_non_null(strstr(rec, "\"x-api-key\":\"" KEY "\""));
    assert_non_null(strstr(rec, "\"anthropic-version\":\"2023-06-01\""));
    assert_non_null(strstr(rec, "\\\"system\\\":\\\"be brief\\\""));
    assert_null(strstr(rec, "\\\"role\\\":\\\"system\\\""));
    free(rec);
    env_free(&e);
}

static void test_anthropic_streaming_joins_text_deltas(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"sse\":["
              "\"event: message_start\\ndata: {\\\"type\\\":\\\"message_start\\\",\\\"message\\\":"
              "{\\\"usage\\\":{\\\"input_tokens\\\":9}}}\","
              "\"event: ping\\ndata: {\\\"type\\\":\\\"ping\\\"}\","
              "\"event: content_block_delta\\ndata: {\\\"type\\\":\\\"content_block_delta\\\","
              "\\\"delta\\\":{\\\"type\\\":\\\"text_delta\\\",\\\"text\\\":\\\"SELECT\\\"}}\","
              "\"event: content_block_delta\\r\\ndata: {\\\"type\\\":\\\"content_block_delta\\\","
              "\\\"delta\\\":{\\\"type\\\":\\\"text_delta\\\",\\\"text\\\":\\\" 4\\\"}}\","
              "\"event: message_delta\\ndata: {\\\"type\\\":\\\"message_delta\\\",\\\"delta\\\":"
              "{\\\"stop_reason\\\":\\\"end_turn\\\"},\\\"usage\\\":{\\\"output_tokens\\\":2}}\","
              "\"event: message_stop\\ndata: {\\\"type\\\":\\\"message_stop\\\"}\"]}]",
              ANTHROPIC_CONF);
    assert_int_equal(env_ask(&e, "claude", ASK_STREAM), DC_OK);
    assert_string_equal(ctx_get(e.ctx, "llm.reply"), "SELECT 4");
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"input_tokens\":9"));
    assert_non_null(strstr(ctx_get(e.ctx, "llm.usage"), "\"output_tokens\":2"));
    env_free(&e);
}

static void test_anthropic_error_event_in_stream_fails(void **state)
{
    struct env e;
    env_setup(&e,
              "[{\"sse\":[\"event: error\\ndata: {\\\"type\\\":\\\"error\\\",\\\"error\\\":"
              "{\\\"type\\\":\\\"overloaded_error\\\",\\\"message\\\":\\\"Overloaded\\\"}}\"]}]",
              ANTHROPIC_CONF);
    env_ask(&e, "claude", ASK_STREAM);
    assert_code(&e, "E-LLM-STREAM-ERROR");
    assert_non_null(strstr(ctx_error_message(e.ctx), "Overloaded"));
    env_free(&e);
}

static void test_unknown_llm_name_and_no_llm_are_clear(void **state)
{
    struct env e;
    env_setup(&e, "[]", ANTHROPIC_CONF);
    env_ask(&e, "nope", ASK);
    assert_code(&e, "E-LLM-UNKNOWN");
    env_free(&e);
    struct dc_ctx *c = ctx_new(NULL);
    assert_non_null(c);
    assert_int_equal(llms_complete(NULL, NULL, c, ASK), DC_ENOTFOUND);
    assert_string_equal(ctx_error_code(c), "E-LLM-NONE");
    ctx_free(c);
}

static void test_config_rejects_unknown_option_and_bad_base_url(void **state)
{
    struct env e;
    char err[1024] = "";
    memset(&e, 0, sizeof(e));
    sbuf_init(&e.logs);
    assert_int_not_equal(env_load(&e, "  default: {provider: openai, model: m, colour: red}\n",
                                  err, sizeof(err)),
                         DC_OK);
    assert_non_null(strstr(err, "E-CFG-UNKNOWN-KEY"));
    llms_free(e.llms);
    registry_free(e.reg);
    config_free(e.cfg);
    memset(&e, 0, sizeof(e));
    err[0] = '\0';
    assert_int_not_equal(env_load(&e, "  default: {provider: openai, model: m, base_url: "
                                      "'ftp://x'}\n", err, sizeof(err)),
                         DC_OK);
    assert_non_null(strstr(err, "scheme 'ftp' is not http or https"));
    assert_non_null(strstr(err, "E-CFG-LLM-URL"));
    assert_non_null(strstr(err, "llm.default.base_url"));
    assert_non_null(strstr(err, "test.yaml:"));
    registry_free(e.reg);
    config_free(e.cfg);
    memset(&e, 0, sizeof(e));
    err[0] = '\0';
    /* libcurl reads an empty port as the scheme's default: refused. */
    assert_int_not_equal(env_load(&e, "  default: {provider: openai, model: m, base_url: "
                                      "'http://127.0.0.1:/v1'}\n", err, sizeof(err)),
                         DC_OK);
    assert_non_null(strstr(err, "E-CFG-LLM-URL"));
    assert_non_null(strstr(err, "port after ':' is empty"));
    registry_free(e.reg);
    config_free(e.cfg);
    sbuf_free(&e.logs);
}

int main(int argc, char **argv)
{
    g_build = argc > 1 ? argv[1] : getenv("DC_BINARY_DIR");
    if (!g_build) {
        fprintf(stderr, "usage: llm_providers BUILD_DIR\n");
        return 2;
    }
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/dc-llm-test-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("DC_TEST_LLM_KEY", KEY, 1);
    unsetenv("DC_TEST_LLM_UNSET_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_valid_answer_sets_reply_usage_and_sends_key),
        cmocka_unit_test(test_openai_streaming_joins_deltas_and_reads_usage),
        cmocka_unit_test(test_openai_json_mode_sends_response_format),
        cmocka_unit_test(test_429_with_retry_after_waits_then_succeeds),
        cmocka_unit_test(test_500s_beyond_the_retry_budget_fail_clearly),
        cmocka_unit_test(test_hung_stream_fires_the_idle_timeout),
        cmocka_unit_test(test_malformed_json_answer_is_a_clear_error),
        cmocka_unit_test(test_malformed_stream_event_is_a_clear_error),
        cmocka_unit_test(test_ten_megabyte_answer_is_refused_not_buffered),
        cmocka_unit_test(test_missing_api_key_env_fails_before_any_request),
        cmocka_unit_test(test_unreachable_base_url_is_a_clear_error),
        cmocka_unit_test(test_unknown_model_404_names_the_model),
        cmocka_unit_test(test_key_echoed_by_the_server_is_redacted),
        cmocka_unit_test(test_bad_request_json_is_rejected_before_sending),
        cmocka_unit_test(test_anthropic_valid_answer_moves_system_and_sends_key),
        cmocka_unit_test(test_anthropic_streaming_joins_text_deltas),
        cmocka_unit_test(test_anthropic_error_event_in_stream_fails),
        cmocka_unit_test(test_unknown_llm_name_and_no_llm_are_clear),
        cmocka_unit_test(test_config_rejects_unknown_option_and_bad_base_url),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "llm_providers: could not remove %s\n", g_tmp);
    return failed ? 1 : 0;
}
