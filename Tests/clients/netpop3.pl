#!/usr/bin/perl
# Perl Net::POP3 against Poplar: log in with APOP or USER/PASS, print every message separated by a marker.
use strict;
use warnings;
use Net::POP3;

my ($host, $port, $user, $pass, $method) = @ARGV;
my $pop = Net::POP3->new($host, Port => $port, Timeout => 10) or die "connect: $@";
my $count = $method eq 'apop' ? $pop->apop($user, $pass) : $pop->login($user, $pass);
die "login ($method) failed: " . $pop->message unless defined $count && $count ne '';
binmode STDOUT;
my $list = $pop->list or die "LIST failed";
for my $n (sort { $a <=> $b } keys %$list) {
    my $lines = $pop->get($n) or die "RETR $n failed";
    print "\0MESSAGE\0", join('', @$lines);
}
$pop->quit;
exit 0;
