DS_BOARD_NAME := $(patsubst "%",%,$(CONFIG_DS_BOARD))
lib-y += board/$(DS_BOARD_NAME)/board.c
