# Runs once when node1 starts, before you get its terminal.
printf 'This is node1. Try: ls, cat words.txt\n' > /etc/motd
