#!/usr/bin/env bats
# Names in the stream: printable UTF-8 as it is, so grep finds it; the
# bytes that could split a record, hide text or mislead a terminal
# escaped; every name decoded back to its bytes, by the tools and by
# printf '%b'.

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

# The escaped names, and how the stream must show each.
NAMES=($'tab\there' $'new\nline' 'back\slash' $'esc\033[31m' $'del\x7f' \
	$'c1\xc2\x85' $'ff\xff' $'overlong\xc0\xaf' $'surrogate\xed\xa0\x80' \
	$'rlo\xe2\x80\xaeexe.txt' $'lri\xe2\x81\xa6x' $'pdi\xe2\x81\xa9x' \
	$'lre\xe2\x80\xaax' $'cut\xe2\x82')
SHOWN=('tab\there' 'new\nline' 'back\\slash' 'esc\033[31m' 'del\177' \
	'c1\302\205' 'ff\377' 'overlong\300\257' 'surrogate\355\240\200' \
	'rlo\342\200\256exe.txt' 'lri\342\201\246x' 'pdi\342\201\251x' \
	'lre\342\200\252x' 'cut\342\202')
# Printable, valid UTF-8: shown as it is.
PLAIN=('café ü.txt' 'Ελληνικά' '日本語.md' '😀 emoji' 'zero​width' \
	'lrm‎mark' 'ﬁ ligature')

@test "printable UTF-8 names are written as they are, and grep finds them" {
	start_watch "$T/out" "$T/w"
	local n
	for n in "${PLAIN[@]}"; do : > "$T/w/$n"; done
	touch "$T/w/.end"
	wait_for 10 grep -q '/\.end$' "$T/out"
	for n in "${PLAIN[@]}"; do
		run grep -c -F "	CREATE	0	$T/w/$n" "$T/out"
		assert_output 1
	done
	grep -q 'café' "$T/out"
}

@test "TAB, newline, backslash, C0, DEL, C1, bidi, invalid UTF-8: escaped" {
	start_watch "$T/out" "$T/w"
	local i
	for i in "${!NAMES[@]}"; do : > "$T/w/${NAMES[$i]}"; done
	touch "$T/w/.end"
	wait_for 10 grep -q '/\.end$' "$T/out"
	for i in "${!NAMES[@]}"; do
		run grep -c -F "	CREATE	0	$T/w/${SHOWN[$i]}" "$T/out"
		assert_output 1
	done
	# Nothing of them raw: no control byte, no bidi character, no
	# invalid UTF-8 (iconv refuses it), four fields per line.
	run grep -c -P '[\x00-\x08\x0b-\x1f\x7f]' "$T/out"
	assert_output 0
	iconv -f UTF-8 -t UTF-8 "$T/out" > /dev/null
	run env LC_ALL=C.UTF-8 grep -c -P \
	    '[\x{80}-\x{9f}\x{202a}-\x{202e}\x{2066}-\x{2069}]' "$T/out"
	assert_output 0
	run awk -F'\t' '!/^#/ && NF != 4' "$T/out"
	assert_output ""
}

@test "every name decodes to its bytes: the codec and printf '%b'" {
	start_watch "$T/out" "$T/w"
	local n
	for n in "${NAMES[@]}" "${PLAIN[@]}"; do : > "$T/w/$n"; done
	touch "$T/w/.end"
	wait_for 10 grep -q '/\.end$' "$T/out"
	printf "$T/w/%s\\0" "${NAMES[@]}" "${PLAIN[@]}" .end | sort -z \
	    > "$T/want"
	grep '	CREATE	' "$T/out" | streamcodec dec | sort -z > "$T/got"
	cmp "$T/want" "$T/got"
	# As a shell user decodes them (the way iobs-stream(5) shows).
	awk -F'\t' '$2 == "CREATE" { print $4 }' "$T/out" |
	    while IFS= read -r p; do printf '%b\0' "$p"; done | sort -z \
	    > "$T/got.sh"
	cmp "$T/want" "$T/got.sh"
}

@test "old streams, all bytes above ASCII escaped, decode the same" {
	printf '# iobs-stream 1\n1.000000\tCREATE\t0\t/w/caf\\303\\251\n1.000000\tCREATE\t0\t/w/café\n' |
	    streamcodec dec > "$T/got"
	printf '/w/café\0/w/café\0' > "$T/want"
	cmp "$T/want" "$T/got"
}
