lib-y += component/core/alloc.c component/core/log.c
lib-y += component/core/conf.c component/core/loop.c
unit-y += test/unit/conf_test.c
