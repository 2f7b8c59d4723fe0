# Remotes: the dispatcher on "kind" is always there (it answers -ENOTSUP for kinds not compiled
# in); each remote lives in its own folder with its own module.mk.
lib-y += component/remote/remotes.c
