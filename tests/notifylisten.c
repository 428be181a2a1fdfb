/*
 * notifylisten SOCKET OUT [COMMAND ...]: stands in for systemd at the
 * other end of NOTIFY_SOCKET. Appends each datagram it gets to OUT,
 * then a line ".", and on one with READY=1 first runs COMMAND with
 * its output into OUT too, to record what was true at that moment.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_un sa;
	char buf[4096];
	ssize_t n;
	pid_t pid;
	int s, out;

	if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notifylisten socket out [command ...]\n");
		return 2;
	}
	if ((out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1)
		err(1, "%s", argv[2]);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[1]);
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		err(1, "%s", argv[1]);
	while ((n = recv(s, buf, sizeof(buf) - 1, 0)) >= 0) {
		buf[n] = '\0';
		if (argc > 3 && (strncmp(buf, "READY=1\n", 8) == 0 ||
		    strstr(buf, "\nREADY=1") != NULL ||
		    strcmp(buf, "READY=1") == 0)) {
			if ((pid = fork()) == -1)
				err(1, "fork");
			if (pid == 0) {
				dup2(out, 1);
				execvp(argv[3], argv + 3);
				err(127, "%s", argv[3]);
			}
			waitpid(pid, NULL, 0);
		}
		if (write(out, buf, n) != n || write(out, "\n.\n", 3) != 3)
			err(1, "%s", argv[2]);
	}
	err(1, "recv");
}
