# datasyncctl: the command-line client of the control socket.
ctl-$(CONFIG_DS_IPC) += component/ctl/main.c component/ctl/print.c component/ctl/register.c \
	component/ctl/schedule.c component/ctl/task.c \
	component/ctl/browser.c
