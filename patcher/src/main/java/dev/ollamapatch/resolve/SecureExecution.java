package dev.ollamapatch.resolve;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Whether running a file puts glibc in secure-execution mode for a normal user: the kernel sets
 * AT_SECURE (glibc's {@code __libc_enable_secure}) when the file is set-user-ID or set-group-ID, or
 * carries file capabilities ({@code security.capability}), and glibc then substitutes {@code $ORIGIN}
 * only where it begins the path, and for the program itself only when the result is a trusted system
 * directory (elf/dl-load.c, _dl_dst_substitute and is_trusted_path_normalize; ld.so(8),
 * "Secure-execution mode"). A '/'-padded site never begins with {@code $ORIGIN}.
 *
 * @param setUid       the S_ISUID bit
 * @param setGid       the S_ISGID bit
 * @param capabilities the file capabilities as {@code getcap} prints them, or "" when none
 */
public record SecureExecution(boolean setUid, boolean setGid, String capabilities) {
    public static final SecureExecution NONE = new SecureExecution(false, false, "");

    public boolean secure() {
        return setUid || setGid || !capabilities.isEmpty();
    }

    /** Why a normal user's run is in secure-execution mode, for reports. */
    public String why() {
        StringBuilder b = new StringBuilder();
        if (setUid) b.append("set-user-ID");
        if (setGid) b.append(b.length() > 0 ? ", " : "").append("set-group-ID");
        if (!capabilities.isEmpty()) b.append(b.length() > 0 ? ", " : "").append("file capabilities ").append(capabilities);
        return b.toString();
    }

    /**
     * Reads the mode bits and the file capabilities of {@code file}. The JDK cannot read the
     * {@code security.*} extended attributes, so capabilities come from libcap's {@code getcap}; when it is
     * missing (libcap2-bin not installed) capabilities cannot be seen and count as absent.
     */
    public static SecureExecution of(Path file) throws IOException {
        return ofAll(java.util.List.of(file)).get(file);
    }

    /**
     * {@link #of} for each of {@code files}, with one {@code getcap} for all of them (a process started per
     * file cost an install of 19 files a third of a second; getcap takes many files and prints a line for
     * each that has capabilities).
     */
    public static java.util.Map<Path, SecureExecution> ofAll(java.util.List<Path> files) throws IOException {
        java.util.Map<Path, Integer> modes = new java.util.LinkedHashMap<>();
        for (Path f : files) modes.put(f, (Integer) Files.getAttribute(f, "unix:mode", LinkOption.NOFOLLOW_LINKS));
        java.util.Map<Path, String> caps = capabilitiesOf(new java.util.ArrayList<>(modes.keySet()));
        java.util.Map<Path, SecureExecution> out = new java.util.LinkedHashMap<>();
        modes.forEach((f, mode) -> out.put(f, ofMode(mode, caps.getOrDefault(f, ""))));
        return out;
    }

    /**
     * libcap's getcap lives in /usr/sbin (Debian, Fedora) or /sbin, which a normal user's PATH often lacks:
     * those first, then whatever PATH finds.
     */
    static String getcap() {
        for (String p : new String[] {"/usr/sbin/getcap", "/sbin/getcap", "/usr/bin/getcap"}) {
            if (Files.isExecutable(Path.of(p))) return p;
        }
        return "getcap";
    }

    /** The PAX record in which GNU tar ({@code --xattrs}) and container layers carry file capabilities. */
    public static final String CAPABILITY_PAX = "SCHILY.xattr.security.capability";

    /**
     * What an archive entry's header says: the set-id bits of its mode, and file capabilities when its PAX
     * records carry {@code security.capability} (extracted with its attributes, the file gets them; the
     * value is the kernel's binary {@code vfs_cap_data}, so the report names the record, not the set).
     */
    public static SecureExecution ofEntry(int mode, java.util.Map<String, String> paxRecords) {
        String caps = paxRecords.containsKey(CAPABILITY_PAX) ? "(security.capability in the entry's PAX records)" : "";
        return ofMode(mode, caps);
    }

    /** The set-user-ID (S_ISUID) and set-group-ID (S_ISGID) bits of {@code mode}, with {@code capabilities}. */
    private static SecureExecution ofMode(int mode, String capabilities) {
        return new SecureExecution((mode & 04000) != 0, (mode & 02000) != 0, capabilities);
    }

    /** Files per getcap run: well within the kernel's limit on a command line's length for long paths. */
    private static final int PER_RUN = 256;

    /** The capabilities getcap prints for each of {@code files} that has some; a file it cannot read has none. */
    private static java.util.Map<Path, String> capabilitiesOf(java.util.List<Path> files) {
        java.util.Map<Path, String> caps = new java.util.HashMap<>();
        for (int from = 0; from < files.size(); from += PER_RUN) {
            java.util.List<Path> some = files.subList(from, Math.min(files.size(), from + PER_RUN));
            // A name with a line break would make getcap's lines ambiguous: such a file is asked alone.
            java.util.List<Path> plain = some.stream().filter(f -> f.toString().indexOf('\n') < 0).toList();
            if (!plain.isEmpty()) caps.putAll(getcap(plain));
            for (Path f : some) if (f.toString().indexOf('\n') >= 0) caps.putAll(getcap(java.util.List.of(f)));
        }
        return caps;
    }

    private static java.util.Map<Path, String> getcap(java.util.List<Path> files) {
        java.util.Map<Path, String> caps = new java.util.HashMap<>();
        try {
            java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(getcap()));
            files.forEach(f -> command.add(f.toString()));
            // Its complaints about a file (unreadable, gone) go to stderr: such a file counts as without capabilities.
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                files.forEach(f -> caps.put(f, "(unknown: getcap did not answer)"));
                return caps;
            }
            // getcap prints "<file> <caps>" per file that has any (libcap 2.x: "file cap_x=ep", older "file = cap_x+ep").
            // A line belongs to the longest of the files that it starts with (names may hold spaces: "/a/b c"
            // starts with "/a/b ").
            for (String line : out.split("\n")) {
                Path owner = null;
                for (Path f : files) {
                    if (line.startsWith(f + " ") && (owner == null || f.toString().length() > owner.toString().length())) owner = f;
                }
                if (owner == null || caps.containsKey(owner)) continue;
                String c = line.substring(owner.toString().length() + 1).trim();
                if (c.startsWith("= ")) c = c.substring(2);
                caps.put(owner, c);
            }
        } catch (IOException e) {
            return caps;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return caps;
    }
}
