lib-y += component/core/alloc.c component/core/log.c
