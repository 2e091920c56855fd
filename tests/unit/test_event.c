/*
 * test_event - bounded parsing, error objects, content comparison, key files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "event.h"
#include "keyfile.h"
#include "testutil.h"

static json_t *parse(const char *text, int depth, json_t *errors)
{
    return event_parse(text, strlen(text), depth, errors);
}

static const char *first(const json_t *errors, const char *member)
{
    return json_string_value(json_object_get(json_array_get(errors, 0), member));
}

static void object_parses_and_others_are_refused_with_reasons(void)
{
    json_t *errors = json_array();
    json_t *o = parse("{\"a\": [1, {\"b\": 2}]}", 32, errors);
    CHECK(json_is_object(o));
    CHECK_INT(json_array_size(errors), 0);
    json_decref(o);

    CHECK(parse("[1,2]", 32, errors) == NULL);
    CHECK_STR(first(errors, "keyword"), "type");
    CHECK_STR(first(errors, "path"), "");
    json_array_clear(errors);

    CHECK(parse("{\"a\": }", 32, errors) == NULL);
    CHECK_STR(first(errors, "keyword"), "json");
    CHECK(strstr(first(errors, "message"), "line 1") != NULL);
    json_array_clear(errors);

    CHECK(parse("{\"a\": 1, \"a\": 2}", 32, errors) == NULL);
    CHECK_STR(first(errors, "keyword"), "json");
    json_array_clear(errors);

    CHECK(parse("{\"a\": \"\xff\xfe\"}", 32, errors) == NULL);
    CHECK_STR(first(errors, "keyword"), "json");
    json_decref(errors);
}

static void nesting_is_bounded_before_parsing(void)
{
    char deep[4100];
    for (int i = 0; i < 2000; i++)
        deep[i] = '[';
    for (int i = 0; i < 2000; i++)
        deep[2000 + i] = ']';
    deep[4000] = '\0';
    CHECK_INT(event_depth(deep, 4000, 32), 33);
    json_t *errors = json_array();
    CHECK(parse(deep, 32, errors) == NULL);
    CHECK_STR(first(errors, "keyword"), "maxDepth");
    json_decref(errors);
    /* Brackets inside strings, escaped quotes included, do not count. */
    const char *s = "{\"a\": \"[[[[\\\"[[[[\", \"b\": {\"c\": [1]}}";
    CHECK_INT(event_depth(s, strlen(s), 32), 3);
}

static void same_content_ignores_whitespace_and_key_order_only(void)
{
    const char *a = "{\"x\": 1, \"y\": [\"\\u00e9\", 2]}";
    const char *b = "{ \"y\":[\"\xc3\xa9\",2],\n \"x\":1 }";
    const char *c = "{\"x\": 1, \"y\": [\"e\", 2]}";
    json_t *errors = json_array();
    json_t *pa = parse(a, 8, errors), *pb = parse(b, 8, errors), *pc = parse(c, 8, errors);
    CHECK(event_same_content(a, strlen(a), a, strlen(a), pa));
    CHECK(event_same_content(a, strlen(a), b, strlen(b), pb));
    CHECK(!event_same_content(a, strlen(a), c, strlen(c), pc));
    CHECK(!event_same_content("{not json", 9, c, strlen(c), pc));
    json_decref(pa);
    json_decref(pb);
    json_decref(pc);
    json_decref(errors);
}

static void error_objects_carry_path_keyword_message(void)
{
    json_t *errors = json_array();
    event_error(errors, "/data/urgentie", "enum", "value %s is not allowed", "\"spoed\"");
    event_error(errors, "", NULL, "plain");
    CHECK_INT(json_array_size(errors), 2);
    CHECK_STR(first(errors, "path"), "/data/urgentie");
    CHECK_STR(first(errors, "keyword"), "enum");
    CHECK_STR(first(errors, "message"), "value \"spoed\" is not allowed");
    CHECK(json_object_get(json_array_get(errors, 1), "keyword") == NULL);
    json_decref(errors);
}

static void keygen_writes_pair_and_readers_check_it(void)
{
    char dir[128], path[256], err[256], pub[41], sec[41], pub2[41];
    tu_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p", dir);
    CHECK_INT(keyfile_generate(path, err, sizeof err), 0);
    /* Never overwrites. */
    CHECK_INT(keyfile_generate(path, err, sizeof err), -1);
    snprintf(path, sizeof path, "%s/p.key", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_INT(keyfile_read_pair(path, pub, sec, err, sizeof err), 0);
    CHECK(keyfile_valid_z85(pub));
    snprintf(path, sizeof path, "%s/p.pub", dir);
    CHECK_INT(keyfile_read_public(path, pub2, err, sizeof err), 0);
    CHECK_STR(pub2, pub);
    snprintf(path, sizeof path, "%s/p.key", dir);
    CHECK_INT(keyfile_read_public(path, pub2, err, sizeof err), 0);
    CHECK_STR(pub2, pub);
    chmod(path, 0640);
    CHECK_INT(keyfile_read_pair(path, pub, sec, err, sizeof err), -1);
    CHECK(strstr(err, "chmod 600") != NULL);
    /* A pair whose halves do not belong together is refused. */
    char text[512], other[256];
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", sec);
    tu_write(dir, "mixed.key", text, other, sizeof other);
    chmod(other, 0600);
    CHECK_INT(keyfile_read_pair(other, pub, sec, err, sizeof err), -1);
    CHECK(strstr(err, "does not belong") != NULL);
    CHECK(!keyfile_valid_z85("too short"));
    tu_rmdir(dir);
}

int main(void)
{
    RUN(object_parses_and_others_are_refused_with_reasons);
    RUN(nesting_is_bounded_before_parsing);
    RUN(same_content_ignores_whitespace_and_key_order_only);
    RUN(error_objects_carry_path_keyword_message);
    RUN(keygen_writes_pair_and_readers_check_it);
    return CHECK_DONE();
}
