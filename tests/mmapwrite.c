/*
 * mmapwrite FILE TEXT: writes TEXT over the start of FILE through a
 * shared mapping, as a database does, says "written" on standard
 * output, and keeps the file open and mapped until standard input is
 * closed: no write(2), no close, so no event says the file changed.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct stat st;
	size_t len;
	char *p, c;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: mmapwrite file text\n");
		return 2;
	}
	len = strlen(argv[2]);
	if ((fd = open(argv[1], O_RDWR)) == -1 || fstat(fd, &st) == -1)
		err(1, "%s", argv[1]);
	if ((size_t)st.st_size < len)
		errx(1, "%s: shorter than the text", argv[1]);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err(1, "mmap %s", argv[1]);
	memcpy(p, argv[2], len);
	printf("written\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		continue;
	munmap(p, len);
	close(fd);
	return 0;
}
