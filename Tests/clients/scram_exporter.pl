#!/usr/bin/perl
# AUTH SCRAM-SHA-256-PLUS with the tls-exporter channel binding (RFC 9266) over POP3S, TLS 1.3. The binding data
# comes from OpenSSL's own exporter (Net::SSLeay::export_keying_material, label "EXPORTER-Channel-Binding", no
# context): the server's value, derived from the key log, must equal it. No SCRAM client here binds with
# tls-exporter (scramp refuses it, mpop offers no -PLUS), so the SCRAM arithmetic (RFC 5802 §3) is done here with
# Digest::SHA; the same arithmetic is checked against scramp and RFC 7677's vector elsewhere.
#
#   scram_exporter.pl HOST PORT USER PASSWORD MODE     MODE: right | wrong-binding (POP3S) | stls (PORT is POP3)
# Prints the server's last answer; exits 0 when it is what MODE expects.
use strict;
use warnings;
use IO::Socket::SSL;
use Net::SSLeay;
use Digest::SHA qw(hmac_sha256 sha256);
use MIME::Base64 qw(encode_base64 decode_base64);

my ($host, $port, $user, $pass, $mode) = @ARGV;
my $s;
if ($mode eq 'stls') {
    $s = IO::Socket::INET->new(PeerHost => $host, PeerPort => $port, Timeout => 10) or die "connect: $!";
    my $greeting = <$s>;
    print $s "STLS\r\n";
    my $ok = <$s>;
    die "STLS: $ok" unless $ok =~ /^\+OK/;
    IO::Socket::SSL->start_SSL($s, SSL_verify_mode => SSL_VERIFY_NONE, SSL_version => 'TLSv1_3') or die "TLS: $SSL_ERROR";
} else {
    $s = IO::Socket::SSL->new(PeerHost => $host, PeerPort => $port, SSL_verify_mode => SSL_VERIFY_NONE,
                              SSL_version => 'TLSv1_3', Timeout => 10) or die "connect: $SSL_ERROR";
}
die "not TLS 1.3: " . $s->get_sslversion . "\n" unless $s->get_sslversion eq 'TLSv1_3';
my $exporter = Net::SSLeay::export_keying_material($s->_get_ssl_object, 32, 'EXPORTER-Channel-Binding');
die "no exporter\n" unless defined $exporter && length($exporter) == 32;
$exporter = ~$exporter if $mode eq 'wrong-binding';

sub line { my $l = <$s>; die "connection closed\n" unless defined $l; $l =~ s/\r?\n$//; return $l }
sub cmd { print $s "$_[0]\r\n"; return line() }
sub b64 { my $e = encode_base64($_[0], ''); return $e }

line() =~ /^\+OK/ or die "no greeting\n" unless $mode eq 'stls';
my $r = cmd('AUTH SCRAM-SHA-256-PLUS');
die "AUTH: $r\n" unless $r eq '+ ';
my $gs2 = 'p=tls-exporter,,';
my $cnonce = b64(join '', map { chr(int(rand(256))) } 1 .. 18);
(my $name = $user) =~ s/=/=3D/g;
$name =~ s/,/=2C/g;
my $bare = "n=$name,r=$cnonce";
$r = cmd(b64($gs2 . $bare));
die "server-first: $r\n" unless $r =~ /^\+ (.+)$/;
my $first = decode_base64($1);
my ($nonce, $salt, $iter) = $first =~ /^r=([^,]+),s=([^,]+),i=(\d+)$/ or die "server-first: $first\n";
die "nonce does not extend ours\n" unless index($nonce, $cnonce) == 0;
$salt = decode_base64($salt);
# SaltedPassword = Hi(password, salt, i): PBKDF2 with HMAC-SHA-256, one block.
my $u = hmac_sha256($salt . pack('N', 1), $pass);
my $salted = $u;
for (2 .. $iter) { $u = hmac_sha256($u, $pass); $salted ^= $u }
my $client_key = hmac_sha256('Client Key', $salted);
my $server_key = hmac_sha256('Server Key', $salted);
my $without_proof = 'c=' . b64($gs2 . $exporter) . ",r=$nonce";
my $auth_message = "$bare,$first,$without_proof";
my $proof = $client_key ^ hmac_sha256($auth_message, sha256($client_key));
$r = cmd(b64("$without_proof,p=" . b64($proof)));
if ($mode eq 'wrong-binding') {
    print "$r\n";
    exit($r eq '-ERR [AUTH] SCRAM: channel-bindings-dont-match' ? 0 : 1);
}
die "server-final: $r\n" unless $r =~ /^\+ (.+)$/;
my $final = decode_base64($1);
die "server signature wrong: $final\n" unless $final eq 'v=' . b64(hmac_sha256($auth_message, $server_key));
$r = cmd('');
print "$r\n";
cmd('QUIT');
exit($r =~ /^\+OK/ ? 0 : 1);
