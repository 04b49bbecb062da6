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
        int mode = (Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return new SecureExecution((mode & 04000) != 0, (mode & 02000) != 0, capabilitiesOf(file));
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
        return new SecureExecution((mode & 04000) != 0, (mode & 02000) != 0, caps);
    }

    private static String capabilitiesOf(Path file) {
        try {
            Process p = new ProcessBuilder(getcap(), file.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "(unknown: getcap did not answer)";
            }
            // getcap prints "<file> <caps>" (libcap 2.x: "file cap_x=ep", older "file = cap_x+ep").
            String prefix = file.toString();
            if (p.exitValue() != 0 || !out.startsWith(prefix)) return "";
            String caps = out.substring(prefix.length()).trim();
            if (caps.startsWith("= ")) caps = caps.substring(2);
            return caps;
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }
}
