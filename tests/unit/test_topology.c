/* Unit tests of the topology engine's ring and successor plan. */
#include "check.h"
#include "../../overlay/topology.h"

static struct nodeid id_of(const char *hex)
{
    struct nodeid id;
    nodeid_parse(hex, &id);
    return id;
}

#define ID(last2) "000000000000000000000000000000" last2

static void test_ring(void)
{
    struct nodeid self = id_of(ID("50"));
    struct nodeid peers[] = { id_of(ID("90")), id_of(ID("10")), id_of(ID("60")), id_of(ID("30")) };
    struct topology_input in = { self, peers, 4, 2, NULL, 0 };
    struct topology_want w[8];
    size_t n = topology_plan(&in, w, 8);
    CHECK(n == 2);
    CHECK(!nodeid_cmp(&w[0].peer, &peers[2]) && w[0].type == EDGE_SUCCESSOR);   /* 60 */
    CHECK(!nodeid_cmp(&w[1].peer, &peers[0]));                                  /* 90 */

    /* wrap-around: the largest ID's successors are the smallest ones */
    in.self = id_of(ID("95"));
    n = topology_plan(&in, w, 8);
    CHECK(n == 2 && !nodeid_cmp(&w[0].peer, &peers[1]) && !nodeid_cmp(&w[1].peer, &peers[3]));

    /* IDs that differ only in the top bit are ordered as unsigned numbers */
    struct nodeid hi = id_of("80000000000000000000000000000000");
    struct nodeid lo = id_of("7fffffffffffffffffffffffffffffff");
    CHECK(nodeid_cmp(&lo, &hi) < 0);
    struct nodeid two[] = { hi };
    struct topology_input in2 = { lo, two, 1, 2, NULL, 0 };
    n = topology_plan(&in2, w, 8);
    CHECK(n == 1 && !nodeid_cmp(&w[0].peer, &hi));
}

static void test_tiny(void)
{
    struct topology_want w[4];
    struct topology_input alone = { id_of(ID("01")), NULL, 0, 2, NULL, 0 };
    CHECK(topology_plan(&alone, w, 4) == 0);

    struct nodeid one[] = { id_of(ID("02")) };
    struct topology_input pair = { id_of(ID("01")), one, 1, 2, NULL, 0 };
    CHECK(topology_plan(&pair, w, 4) == 1);     /* two successors wanted, one exists */

    struct nodeid statics[] = { id_of(ID("02")), id_of(ID("01")), id_of(ID("07")) };
    struct topology_input st = { id_of(ID("01")), one, 1, 2, statics, 3 };
    size_t n = topology_plan(&st, w, 4);
    /* self is never planned; a static peer that is also a successor is static once */
    CHECK(n == 2);
    CHECK(w[0].type == EDGE_STATIC && !nodeid_cmp(&w[0].peer, &statics[0]));
    CHECK(w[1].type == EDGE_STATIC && !nodeid_cmp(&w[1].peer, &statics[2]));
}

static void test_names(void)
{
    enum edge_type t;
    CHECK(edge_type_parse("long_distance", &t) && t == EDGE_LONG_DISTANCE);
    CHECK(!edge_type_parse("sideways", &t));
    CHECK_STR(edge_type_name(EDGE_ON_DEMAND), "on_demand");
}

int main(void)
{
    test_ring();
    test_tiny();
    test_names();
    return check_report("test_topology");
}
