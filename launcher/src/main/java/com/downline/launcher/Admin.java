package com.downline.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Function;

import org.neo4j.cli.ExecutionContext;
import org.neo4j.commandline.dbms.DumpCommand;
import org.neo4j.commandline.dbms.LoadCommand;
import org.neo4j.consistency.CheckCommand;
import org.neo4j.importer.ImportCommand;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;

import picocli.CommandLine;

/**
 * The offline {@code neo4j-admin database} commands against a store this launcher runs.
 *
 * <p>Usage: {@code MODE --data DIR [options of neo4j-admin database MODE ...]}, where MODE is
 * {@code import} (import full), {@code dump}, {@code load} or {@code check}; e.g.
 * {@code import --data var/neo4j/store --nodes=Member=members.csv --overwrite-destination neo4j}
 * or {@code dump --data var/neo4j/store --to-path=backups neo4j}. {@code DIR} is the home the
 * embedded server was started with, so the command reads and writes the same
 * {@code DIR/data/databases/NAME} and {@code DIR/data/transactions/NAME} the server opens. The
 * server must be stopped: each command takes the store's lock and refuses otherwise. The exit
 * code is the command's own (0 on success).
 */
final class Admin {
    private Admin() {}

    static boolean isMode(String mode) {
        return command(mode) != null;
    }

    private static Function<ExecutionContext, Object> command(String mode) {
        return switch (mode) {
            case "import" -> ImportCommand.Full::new;
            case "dump" -> DumpCommand::new;
            case "load" -> LoadCommand::new;
            case "check" -> CheckCommand::new;
            default -> null;
        };
    }

    static int run(String mode, String[] args) throws Exception {
        if (args.length < 2 || !args[0].equals("--data")) {
            System.err.println("neo4j-launcher: " + mode + " expects --data DIR first");
            return 2;
        }
        Path home = Path.of(args[1]).toAbsolutePath();
        Files.createDirectories(home);
        // No neo4j.conf here: the embedded server's settings live in launcher.conf, and these
        // commands only need the home to find the data directory.
        Path conf = home.resolve("conf");
        try (DefaultFileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            ExecutionContext context = new ExecutionContext(home, conf, System.out, System.err, fs);
            CommandLine line = new CommandLine(command(mode).apply(context))
                    .setCaseInsensitiveEnumValuesAllowed(true);
            return line.execute(Arrays.copyOfRange(args, 2, args.length));
        }
    }
}
