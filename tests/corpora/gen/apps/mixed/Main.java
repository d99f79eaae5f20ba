public class Main {
    static int parse(String value) {
        return Integer.parseInt(value);
    }

    static void load(String value) {
        try {
            parse(value);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("cannot load order " + value, e);
        }
    }

    public static void main(String[] args) {
        System.out.println("java worker: loading order " + args[0]);
        load(args[0]);
    }
}
